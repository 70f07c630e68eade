/**
 * Processes the lab started (lxc monitors and container inits, qemu, the repository server): checked
 * and stopped by their recorded PID only, never by name, and only after /proc/<pid>/cmdline proves
 * the PID still belongs to the lab (a PID can be reused by another program after a crash).
 */
import { readdirSync, readFileSync } from 'node:fs';

export function isAlive(pid: number | undefined): pid is number {
  if (!pid || pid <= 1) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie is not alive for our purposes
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The argv of a process, or null when it is gone. */
export function processArgv(pid: number): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const parts = raw.split('\0');
    if (parts[parts.length - 1] === '') parts.pop();
    return parts;
  } catch {
    return null;
  }
}

/** True when the process is alive and its command line contains every marker. */
export function processMatches(pid: number | undefined, markers: readonly string[]): pid is number {
  if (!isAlive(pid)) return false;
  const argv = processArgv(pid);
  if (!argv) return false;
  const line = argv.join(' ');
  return markers.every((m) => line.includes(m));
}

/** PIDs whose command line contains every marker (used to find what a crash left unrecorded). */
export function findProcesses(markers: readonly string[]): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    if (pid === process.pid) continue;
    if (processMatches(pid, markers)) out.push(pid);
  }
  return out;
}

export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !isAlive(pid);
}

/**
 * SIGTERM, wait, then SIGKILL a lab process, but only when it still matches its markers.
 * Returns true when the process is gone afterwards.
 */
export async function stopProcess(pid: number | undefined, markers: readonly string[], graceMs = 5000): Promise<boolean> {
  if (!processMatches(pid, markers)) return true;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return true;
  }
  if (await waitForExit(pid, graceMs)) return true;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return true;
  }
  return waitForExit(pid, 5000);
}
