/**
 * The reliability suite's view of a lab (test/harness/lab.ts starts it): a work directory with
 * the lab inventory, async ssh to the nodes (root), inventory variants, the real CLI on them,
 * the managed-file list of a plan, one-round-trip snapshots of those files on a node, faults
 * (traffic of one node dropped on the lab bridge with nft, inside the lab namespace only) and
 * the state-directory checks (PKI parses, modes, CA fingerprint).
 *
 * Every lab here has its own name and subnet (see the test files) and is always taken down.
 */
import { execFile, spawn } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { startLab, type LabHandle } from '../harness/lab.js';
import { runCliAsync } from './helpers.js';

const execFileP = promisify(execFile);

// The lab runs its local commands through zx (bash -c, stdin a socket). With SHLVL=0 in the
// environment (some launchers start the test runner that way), bash then reads root's ~/.bashrc
// for every command, which on this machine waits 60 s on a stale pyenv lock. Never below 1 here.
if (!(Number(process.env.SHLVL) >= 1)) process.env.SHLVL = '1';

export interface RelLab {
  handle: LabHandle;
  namespace: string;
  /** directory holding the lab inventory (and, through cluster.stateDir, the state directory) */
  dir: string;
  inventory: string;
  stateDir: string;
  nodes: { name: string; address: string }[];
  address(node: string): string;
}

/**
 * Lab names and subnets are fixed per test file (they must not collide with other files). A second
 * copy of the suite on the same machine (a developer's run while CI runs the same files) sets
 * KUBI_REL_DEV=1: its labs get a `d` suffix and 10.170.x.0/24 instead of 10.169.x.0/24.
 */
function devVariant(namespace: string, subnet: string): { namespace: string; subnet: string } {
  if (process.env.KUBI_REL_DEV !== '1') return { namespace, subnet };
  return { namespace: `${namespace}d`, subnet: subnet.replace(/^10\.169\./, '10.170.') };
}

export async function startRelLab(baseNamespace: string, baseSubnet: string, dir: string, log?: (l: string) => void): Promise<RelLab> {
  const { namespace, subnet } = devVariant(baseNamespace, baseSubnet);
  const inventory = path.join(dir, 'lab.yaml');
  const handle = await startLab({ nodes: 3, namespace, subnet, inventoryPath: inventory, ...(log ? { log } : {}) });
  const inv = parse(readFileSync(inventory, 'utf8')) as { cluster: { stateDir?: string } };
  const stateDir = path.resolve(dir, inv.cluster.stateDir ?? '.kubi/lab');
  return {
    handle,
    namespace,
    dir,
    inventory,
    stateDir,
    nodes: handle.nodes,
    address: (node) => {
      const n = handle.nodes.find((x) => x.name === node);
      if (!n) throw new Error(`no lab node ${node}`);
      return n.address;
    },
  };
}

/** Run a command on a node as root with the system ssh client (no host key pinning: the tool's own known_hosts is what tests inspect). */
export async function ssh(lab: RelLab, node: string, command: string, opts: { allowFailure?: boolean; timeoutMs?: number; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = [
    '-i', lab.handle.keyPath,
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', '-o', 'BatchMode=yes',
    '-o', 'ConnectTimeout=10',
    `root@${lab.address(node)}`,
    command,
  ];
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn('ssh', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
  if (r.code !== 0 && !opts.allowFailure) throw new Error(`ssh ${node} ${command.slice(0, 80)}: exit ${r.code}: ${r.stderr.trim()}`);
  return r;
}

/** A bash script run on a node from stdin (nothing of it on any command line). */
export function script(lab: RelLab, node: string, body: string, opts: { allowFailure?: boolean; timeoutMs?: number } = {}) {
  return ssh(lab, node, 'bash -s', { ...opts, input: body });
}

/** Write a variant of the lab inventory beside it (same state directory) and return its path. */
export function inventoryVariant(lab: RelLab, name: string, mutate: (inv: Record<string, any>) => void): string {
  const inv = parse(readFileSync(lab.inventory, 'utf8')) as Record<string, any>;
  mutate(inv);
  const file = path.join(lab.dir, `${name}.yaml`);
  writeFileSync(file, stringify(inv));
  return file;
}

/** The real CLI in the lab's directory, with a bound on hanging. */
export function kubi(lab: RelLab, args: string[], boundMs = 600_000) {
  return runCliAsync(args, { cwd: lab.dir, boundMs });
}

export interface ManagedFile {
  host: string;
  path: string;
  mode: number;
  secret: boolean;
}

interface PlanJson {
  upToDate: boolean;
  totalChanges: number;
  steps: { id: string; hosts: { host: string; status: string; changes: { kind: string; path?: string; mode?: string | number; secret?: boolean; unit?: string }[] }[] }[];
}

/** `plan --output json`: the parsed report. */
export async function planJson(lab: RelLab, inventory: string, extra: string[] = []): Promise<PlanJson> {
  const r = await kubi(lab, ['plan', inventory, '--output', 'json', '--quiet', ...extra], 300_000);
  if (r.status !== 0) throw new Error(`plan failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout) as PlanJson;
}

/** Every remote file a plan writes (kind: file), per host, and the service fingerprints it records. */
export function managedFiles(plan: PlanJson): ManagedFile[] {
  const out = new Map<string, ManagedFile>();
  for (const s of plan.steps) {
    for (const h of s.hosts) {
      if (h.host === '(local)' || h.host === 'workstation') continue;
      for (const c of h.changes) {
        if (c.kind === 'file' && c.path) {
          const mode = typeof c.mode === 'string' ? parseInt(c.mode, 8) : (c.mode ?? 0o644);
          out.set(`${h.host}\0${c.path}`, { host: h.host, path: c.path, mode, secret: c.secret === true });
        }
      }
    }
  }
  return [...out.values()];
}

export interface FileState {
  path: string;
  /** null when the file does not exist */
  size: number | null;
  sha256: string | null;
  mode: number | null;
  owner: string | null;
}

export interface NodeSnapshot {
  files: Map<string, FileState>;
  /** temp files of the tool's atomic writes (or anything like one) beside the managed files */
  temps: string[];
}

/**
 * One round trip: size, mode, owner of each path, its sha256 when `hash` says so (default: all;
 * hashing every 40 MB binary each time is what makes a snapshot slow), and temp files in their
 * directories. An unhashed file has `sha256: '-'`.
 */
export async function snapshot(lab: RelLab, node: string, paths: readonly string[], hash: (p: string) => boolean = () => true): Promise<NodeSnapshot> {
  const dirs = [...new Set(paths.map((p) => path.posix.dirname(p)))];
  const body = [
    'export LC_ALL=C',
    'while IFS=" " read -r h p; do',
    '  if [ -f "$p" ]; then if [ "$h" = 1 ]; then s=$(sha256sum < "$p"); else s=-; fi; printf "F\\t%s\\t%s\\t%s\\t%s\\n" "$p" "$(stat -c "%s %a %U:%G" -- "$p")" "${s%% *}" x;',
    '  else printf "M\\t%s\\n" "$p"; fi',
    'done <<\'EOF_PATHS\'',
    ...paths.map((p) => `${hash(p) ? 1 : 0} ${p}`),
    'EOF_PATHS',
    'while IFS= read -r d; do',
    '  [ -d "$d" ] && find "$d" -maxdepth 1 \\( -name ".kubi-put.*" -o -name "*.tmp" -o -name ".*.tmp-*" -o -name "*.kubi-tmp*" -o -name "*.dpkg-new" \\) -printf "T\\t%p\\n"',
    'done <<\'EOF_DIRS\'',
    ...dirs,
    'EOF_DIRS',
    'exit 0',
  ].join('\n');
  const r = await script(lab, node, body + '\n');
  const files = new Map<string, FileState>();
  const temps: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const f = line.split('\t');
    if (f[0] === 'F') {
      const [size, mode, owner] = f[2]!.split(' ');
      files.set(f[1]!, { path: f[1]!, size: Number(size), mode: parseInt(mode!, 8), owner: owner!, sha256: f[3]! });
    } else if (f[0] === 'M') {
      files.set(f[1]!, { path: f[1]!, size: null, sha256: null, mode: null, owner: null });
    } else if (f[0] === 'T') {
      temps.push(f[1]!);
    }
  }
  for (const p of paths) if (!files.has(p)) throw new Error(`snapshot of ${node} lacks ${p}: ${r.stdout.slice(0, 500)} ${r.stderr}`);
  return { files, temps };
}

/** Drop every frame to or from `address` on the lab bridge (nft, bridge family, inside the lab namespace only). */
export async function dropTraffic(lab: RelLab, address: string, table: string): Promise<void> {
  const rules = `table bridge ${table} {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n    ip saddr ${address} drop\n    ip daddr ${address} drop\n  }\n}\n`;
  await new Promise<void>((resolve, reject) => {
    const c = spawn('ip', ['netns', 'exec', lab.namespace, 'nft', '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`nft: ${err}`))));
    c.stdin.end(rules);
  });
}

export async function restoreTraffic(lab: RelLab, table: string): Promise<void> {
  await execFileP('ip', ['netns', 'exec', lab.namespace, 'nft', 'delete', 'table', 'bridge', table]).catch(() => undefined);
}

export interface StateCheck {
  caFingerprint: string;
  problems: string[];
}

/** The state directory is intact: 0700 dirs, 0600 keys, every cert and key parses, each key matches its cert. */
export function checkStateDir(stateDir: string): StateCheck {
  const problems: string[] = [];
  const mode = (p: string) => statSync(p).mode & 0o777;
  if (mode(stateDir) !== 0o700) problems.push(`${stateDir} is ${mode(stateDir).toString(8)}, not 700`);
  const pki = path.join(stateDir, 'pki');
  let caFingerprint = '';
  if (existsSync(pki)) {
    if (mode(pki) !== 0o700) problems.push(`${pki} is ${mode(pki).toString(8)}`);
    for (const f of readdirSync(pki)) {
      const p = path.join(pki, f);
      if (f.startsWith('.')) {
        problems.push(`leftover temp file ${p}`);
        continue;
      }
      const text = readFileSync(p, 'utf8');
      if (text.length === 0) problems.push(`${p} is empty`);
      if (f.endsWith('.key')) {
        if (mode(p) !== 0o600) problems.push(`${p} is ${mode(p).toString(8)}, not 600`);
        try {
          const key = createPrivateKey(text);
          const crt = p.replace(/\.key$/, '.crt');
          if (existsSync(crt) && !new X509Certificate(readFileSync(crt)).checkPrivateKey(key)) problems.push(`${p} does not match ${crt}`);
        } catch (e) {
          problems.push(`${p} does not parse: ${(e as Error).message}`);
        }
      } else if (f.endsWith('.crt')) {
        try {
          const c = new X509Certificate(readFileSync(p));
          if (f === 'etcd-ca.crt') caFingerprint = c.fingerprint256;
        } catch (e) {
          problems.push(`${p} does not parse: ${(e as Error).message}`);
        }
      }
    }
  }
  for (const f of readdirSync(stateDir)) {
    const p = path.join(stateDir, f);
    if (/\.tmp$|\.tmp-|^\..*\.\d+\./.test(f)) problems.push(`leftover temp file ${p}`);
    if (statSync(p).isFile() && (f.includes('token') || f.endsWith('.key') || f === 'known_hosts') && (mode(p) & 0o077) !== 0) {
      problems.push(`${p} is ${mode(p).toString(8)}: readable by others`);
    }
  }
  return { caFingerprint, problems };
}

/** PIDs of processes whose command line contains `needle` (local). */
export async function localPids(needle: string): Promise<number[]> {
  const { stdout } = await execFileP('ps', ['-eo', 'pid=,args=']);
  return stdout
    .split('\n')
    .map((l) => /^\s*(\d+)\s+(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && m[2]!.includes(needle))
    .map((m) => Number(m[1]));
}
