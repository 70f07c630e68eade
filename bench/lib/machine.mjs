// What the bench ran on: CPU model, cores, memory, kernel, Node and Ansible versions, load.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { run } from './proc.mjs';

export async function machine() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  const flags = /^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.split(' ') ?? [];
  const ansible = await run(['ansible-playbook', '--version']).catch(() => null);
  let osName = 'unknown';
  try {
    osName = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? osName;
  } catch {
    /* no os-release */
  }
  return {
    cpu: model,
    cores: os.cpus().length,
    shaNi: flags.includes('sha_ni'),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    os: osName,
    node: process.version,
    ansible: ansible && ansible.code === 0 ? ansible.stdout.split('\n')[0].trim() : 'not installed',
  };
}
