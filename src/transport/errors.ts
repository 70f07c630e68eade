/**
 * Errors the transport raises, with stable codes (see src/errors.ts for the base):
 *   remote-command       a command exited non-zero (RemoteCommandError: host, command, exit code, stderr tail)
 *   command-timeout      a command ran longer than its timeout (its channel was closed, the process signalled)
 *   connection-lost      the SSH connection of a host died; every in-flight and later command fails with it
 *   ssh-connect-failed   the host could not be reached (after the bounded retries)
 *   ssh-auth-failed      the host refused our keys / agent
 *   ssh-key              a private key file cannot be read or decrypted
 *   host-key-mismatch    the host presented a different key than the one recorded (never retried)
 *   host-key-unknown     strictHostKeys is on and the host has no recorded key
 *   sudo-password-required / sudo-password-rejected / sudo-missing
 */
import { KubiError } from '../errors.js';

/** How many stderr lines a RemoteCommandError keeps. */
export const STDERR_TAIL_LINES = 20;

export function lastLines(text: string, n: number): string[] {
  const lines = text.replace(/\s+$/, '').split('\n');
  if (lines.length === 1 && lines[0] === '') return [];
  return lines.slice(-n);
}

export class RemoteCommandError extends KubiError {
  /** the command as a user could paste it (secrets redacted) */
  readonly command: string;
  /** the remote command's exit status (`exitCode` is the tool's own process exit code, from KubiError) */
  readonly remoteExitCode: number;
  /** last lines of stderr (redacted), oldest first */
  readonly stderrTail: string[];
  /** the whole captured stdout (redacted): some tools report errors there */
  readonly stdout: string;

  /** what the command was for ("write /etc/etcd/etcd.conf"), when the caller said */
  readonly label?: string;

  constructor(args: { host: string; command: string; exitCode: number; stderr: string; stdout: string; label?: string }) {
    super('remote-command', `command failed on ${args.host} (exit ${args.exitCode}): ${args.command}`, {
      host: args.host,
      hint: `the last lines of its stderr are shown; reproduce it on ${args.host} with: ${args.command}`,
    });
    this.name = 'RemoteCommandError';
    this.command = args.command;
    this.remoteExitCode = args.exitCode;
    this.stderrTail = lastLines(args.stderr, STDERR_TAIL_LINES);
    this.stdout = args.stdout;
    if (args.label !== undefined) this.label = args.label;
  }
}

export function connectionLostError(host: string, detail: string): KubiError {
  return new KubiError('connection-lost', `lost the ssh connection to ${host} (${detail})`, {
    host,
    hint: `check that ${host} is up (a reboot, a crash, a network cut or sshd restart closes the connection), then run again`,
  });
}

export function commandTimeoutError(host: string, command: string, timeoutMs: number): KubiError {
  return new KubiError('command-timeout', `command timed out on ${host} after ${formatMs(timeoutMs)}: ${command}`, {
    host,
    hint: 'the command was stopped; check why it hangs on the host, or raise ssh.commandTimeoutMs in the inventory',
  });
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  return Number.isInteger(s) ? `${s} s` : `${s.toFixed(1)} s`;
}
