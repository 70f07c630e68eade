/**
 * A RemoteHost that runs on THIS machine with the real bash (no SSH): lets tests run the real
 * facts script end to end. Only `script` and `exec` are real; file transfer is not needed here
 * and throws, so a test that wrongly relies on it fails loudly.
 */
import { spawn } from 'node:child_process';
import type { ExecOptions, ExecResult, RemoteHost, TransportStats } from '../../src/transport/types.js';

export class LocalShellHost implements RemoteHost {
  readonly name: string;
  readonly address = '127.0.0.1';
  readonly isRoot = process.getuid?.() === 0;
  private trips = 0;
  readonly scripts: { script: string; opts: ExecOptions }[] = [];

  constructor(name = 'localhost') {
    this.name = name;
  }

  private run(argv: string[], stdin: string | Buffer | undefined, opts: ExecOptions): Promise<ExecResult> {
    this.trips++;
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', reject);
      child.on('close', (code) => {
        const result: ExecResult = {
          command: argv.join(' '),
          exitCode: code ?? -1,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          durationMs: Date.now() - started,
        };
        if (result.exitCode !== 0 && !opts.allowFailure) reject(new Error(`${result.command} exited ${result.exitCode}`));
        else resolve(result);
      });
      // a command that exits before reading stdin closes the pipe: EPIPE is not an error here
      child.stdin.on('error', () => {});
      child.stdin.end(stdin ?? '');
    });
  }

  exec(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    return this.run([...argv], opts.stdin, opts);
  }

  script(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.scripts.push({ script, opts });
    return this.run(['bash', '-s'], script, opts);
  }

  putFile(): never {
    throw new Error('LocalShellHost.putFile is not available in this test helper');
  }

  getFile(): never {
    throw new Error('LocalShellHost.getFile is not available in this test helper');
  }

  async reconnect(): Promise<void> {
    /* local shell: nothing to reconnect */
  }

  stats(): TransportStats {
    return { connections: 0, roundTrips: this.trips, bytesSent: 0, bytesReceived: 0 };
  }
}
