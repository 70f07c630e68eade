/**
 * The small HTTP server that serves the lab's package repository (and the artifacts directory under
 * /artifacts/) on the bridge address INSIDE the lab namespace. It is a separate Node process
 * (started detached under `nsenter --net`, PID recorded in the lab state and a pid file, output in
 * a log), so it outlives the `lab up` command; `lab down` stops it by PID.
 *
 * The server program is passed with `node -e` so it needs no file of its own at run time (the CLI
 * may run from dist/ or from the TypeScript sources). It serves GET/HEAD of regular files only,
 * never outside its roots.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import net from 'node:net';
import { KubiError } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { netnsPrefix } from './exec.js';
import { isAlive, processMatches, stopProcess } from './procs.js';

/** The marker in the server's command line (with its repo dir) that proves a PID is ours. */
export const SERVER_MARKER = 'kubi-lab-repo-server';

const SERVER_PROGRAM = `
// ${SERVER_MARKER}
const http = require('node:http'), fs = require('node:fs'), path = require('node:path');
const [bind, port, repoRoot, artifactsRoot] = process.argv.slice(1);
const types = { '.gz': 'application/gzip', '.deb': 'application/vnd.debian.binary-package', '.json': 'application/json' };
function resolve(urlPath) {
  let p = decodeURIComponent(urlPath.split('?')[0]);
  let root = repoRoot;
  if (artifactsRoot && (p === '/artifacts' || p.startsWith('/artifacts/'))) { root = artifactsRoot; p = p.slice('/artifacts'.length) || '/'; }
  const full = path.resolve(root, '.' + path.posix.normalize('/' + p));
  return full === root || full.startsWith(root + path.sep) ? full : null;
}
http.createServer((req, res) => {
  const file = (req.method === 'GET' || req.method === 'HEAD') ? resolve(req.url || '/') : null;
  fs.stat(file || '/nonexistent', (err, st) => {
    if (!file || err || !st.isFile()) { res.writeHead(file ? 404 : 405); res.end(); console.log(req.method, req.url, file ? 404 : 405); return; }
    res.writeHead(200, { 'content-length': st.size, 'content-type': types[path.extname(file)] || 'application/octet-stream' });
    console.log(req.method, req.url, 200);
    if (req.method === 'HEAD') return res.end();
    fs.createReadStream(file).pipe(res);
  });
}).listen(Number(port), bind, () => console.log('listening on', bind + ':' + port));
`;

export interface ServerHandle {
  pid: number;
  url: string;
}

export function serverMarkers(repoDir: string): string[] {
  return [SERVER_MARKER, repoDir];
}

/** Start the server inside the namespace and wait until it accepts connections. */
export async function startRepoServer(opts: {
  netns: string;
  bind: string;
  port: number;
  repoDir: string;
  artifactsDir: string;
  logFile: string;
  pidFile: string;
}): Promise<ServerHandle> {
  const out = openSync(opts.logFile, 'a', 0o600);
  const argv = [...netnsPrefix(opts.netns), process.execPath, '-e', SERVER_PROGRAM, opts.bind, String(opts.port), opts.repoDir, opts.artifactsDir];
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  child.unref();
  const pid = child.pid;
  if (!pid) throw new KubiError('lab-repo-server', 'could not start the lab package server');
  // nsenter execs node in place, so the PID is the server's
  const url = `http://${opts.bind}:${opts.port}/`;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) break;
    if (await canConnect(opts.bind, opts.port)) {
      await writeFileAtomic(opts.pidFile, `${pid}\n`, 0o600);
      return { pid, url };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopProcess(pid, serverMarkers(opts.repoDir), 1000);
  throw new KubiError('lab-repo-server', `the lab package server did not come up on ${opts.bind}:${opts.port}`, { hint: `see ${opts.logFile}` });
}

/** TCP connect from the root namespace (the lab subnet is routed through the veth). */
export function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export async function stopRepoServer(pid: number | undefined, repoDir: string): Promise<void> {
  await stopProcess(pid, serverMarkers(repoDir), 3000);
}

export function repoServerRunning(pid: number | undefined, repoDir: string): boolean {
  return processMatches(pid, serverMarkers(repoDir));
}
