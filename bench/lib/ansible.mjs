// The Ansible baseline's plumbing: an INI inventory generated from the lab inventory, the export of
// the tool's own rendered files from a host it provisioned (so Ansible copies identical bytes),
// and one `ansible-playbook` run with its PLAY RECAP parsed.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BENCH_DIR, sshArgv } from './lab.mjs';
import { mustRun, run } from './proc.mjs';

export const ANSIBLE_DIR = path.join(BENCH_DIR, 'ansible');

/** Files the tool writes in its host and etcd steps (exported per host; binaries once, from the first host). */
export const PER_HOST_FILES = [
  'etc/modules-load.d/kubi.conf',
  'etc/sysctl.d/90-kubi.conf',
  'etc/etcd/pki/ca.crt',
  'etc/etcd/pki/server.crt',
  'etc/etcd/pki/server.key',
  'etc/etcd/pki/peer.crt',
  'etc/etcd/pki/peer.key',
  'etc/etcd/pki/admin.crt',
  'etc/etcd/pki/admin.key',
  'etc/systemd/system/etcd.service',
  'etc/etcd/etcd.env',
  'etc/profile.d/etcdctl.sh',
];
export const COMMON_FILES = ['usr/local/bin/etcd', 'usr/local/bin/etcdctl'];

const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;

/** INI inventory: group etcd with the lab's etcd nodes, each with its own login user (become for sudo users). */
export function writeInventory(lab, file) {
  const lines = ['[etcd]'];
  for (const n of lab.nodes.filter((x) => x.roles.includes('etcd'))) {
    lines.push(`${n.name} ansible_host=${n.address} ansible_user=${n.user} ansible_ssh_private_key_file=${lab.keyPath}`);
  }
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

/** Copy what the tool wrote on each host into `<dir>/<host>/...` and the binaries into `<dir>/common/...` (0700 tree: it holds keys). */
export async function exportFiles(lab, dir) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pull = async (address, files, into) => {
    mkdirSync(into, { recursive: true, mode: 0o700 });
    const remote = sshArgv(lab, address, `tar -C / -cf - ${files.join(' ')}`).map(q).join(' ');
    await mustRun(['bash', '-c', `set -o pipefail; ${remote} | tar -xf - -C ${q(into)}`]);
  };
  for (const n of lab.nodes.filter((x) => x.roles.includes('etcd'))) await pull(n.address, PER_HOST_FILES, path.join(dir, n.name));
  await pull(lab.nodes[0].address, COMMON_FILES, path.join(dir, 'common'));
  return dir;
}

/** PLAY RECAP per host: { ok, changed, unreachable, failed, skipped } */
export function parseRecap(stdout) {
  const recap = {};
  const at = stdout.lastIndexOf('PLAY RECAP');
  for (const line of stdout.slice(at).split('\n').slice(1)) {
    const m = /^(\S+)\s+:\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const counts = {};
    for (const kv of m[2].trim().split(/\s+/)) {
      const [k, v] = kv.split('=');
      counts[k] = Number(v);
    }
    recap[m[1]] = counts;
  }
  return recap;
}

/** One ansible-playbook run of site.yml; `controlDir` holds the ControlMaster sockets (kept between runs). */
export async function runAnsible({ inventoryFile, filesRoot, controlDir }) {
  const env = {
    ...process.env,
    ANSIBLE_CONFIG: path.join(ANSIBLE_DIR, 'ansible.cfg'),
    ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir,
    ANSIBLE_LOCAL_TEMP: path.join(controlDir, 'tmp'),
    ANSIBLE_NOCOLOR: '1',
  };
  const r = await run(['ansible-playbook', '-i', inventoryFile, path.join(ANSIBLE_DIR, 'site.yml'), '-e', `files_root=${filesRoot}`], { env, cwd: ANSIBLE_DIR });
  return { ...r, recap: parseRecap(r.stdout) };
}

/** Close the ControlMaster connections Ansible left in `controlDir` (each lab gets its own directory). */
export async function closeMasters(controlDir) {
  let sockets = [];
  try {
    sockets = readdirSync(controlDir).filter((f) => f !== 'tmp');
  } catch {
    return;
  }
  for (const s of sockets) await run(['ssh', '-o', `ControlPath=${path.join(controlDir, s)}`, '-O', 'exit', 'lab-node']);
}
