/**
 * `--stats-json FILE` of `plan` / `up`: what a run cost, per host, for benchmarks (bench/) and
 * for users who want to see it. Owns `countUploads` (a RemoteHost decorator that counts the file
 * content really sent by putFile) and `runStats` (the JSON document). No I/O here: run.ts writes
 * the file. Never contains file contents, commands or secrets: only counters and timings.
 */
import type { PutFileOptions, PutFileResult, RemoteHost } from '../transport/types.js';

export interface UploadCounter {
  /** putFile calls that sent content (the host's copy differed or skipIfSame was off) */
  files: number;
  /** bytes of file content sent by those calls */
  bytes: number;
}

/** A RemoteHost that behaves exactly like `remote` and counts uploaded file content into `counter`. */
export function countUploads(remote: RemoteHost, counter: UploadCounter): RemoteHost {
  return {
    name: remote.name,
    address: remote.address,
    isRoot: remote.isRoot,
    exec: (argv, opts) => remote.exec(argv, opts),
    script: (script, opts) => remote.script(script, opts),
    getFile: (p, opts) => remote.getFile(p, opts),
    stats: () => remote.stats(),
    reconnect: (opts) => remote.reconnect(opts),
    // read-only batched views upload nothing: pass them through uncounted
    ...(remote.batched ? { batched: () => remote.batched!() } : {}),
    async putFile(p: string, content: string | Buffer, opts?: PutFileOptions): Promise<PutFileResult> {
      const r = await remote.putFile(p, content, opts);
      // the transport's bytesSent also holds the command line; count only the content it streamed
      const size = typeof content === 'string' ? Buffer.byteLength(content) : content.length;
      if (r.changed && r.bytesSent >= size) {
        counter.files++;
        counter.bytes += size;
      }
      return r;
    },
  };
}

export interface HostRunStats {
  connections: number;
  roundTrips: number;
  bytesSent: number;
  bytesReceived: number;
  filesUploaded: number;
  bytesUploaded: number;
}

export interface RunStats {
  command: 'plan' | 'up';
  ok: boolean;
  /** milliseconds: load..connect done, facts, the playbook run, the whole command */
  timings: { connectMs: number; factsMs: number; runMs: number; totalMs: number };
  steps: { id: string; durationMs: number; hosts: number; changed: number }[];
  hosts: Record<string, HostRunStats>;
  totals: HostRunStats;
}

export function runStats(args: {
  command: 'plan' | 'up';
  ok: boolean;
  timings: RunStats['timings'];
  steps: { id: string; durationMs: number; hosts: { status: string }[] }[];
  remotes: ReadonlyMap<string, RemoteHost>;
  uploads: ReadonlyMap<string, UploadCounter>;
}): RunStats {
  const hosts: Record<string, HostRunStats> = {};
  const totals: HostRunStats = { connections: 0, roundTrips: 0, bytesSent: 0, bytesReceived: 0, filesUploaded: 0, bytesUploaded: 0 };
  for (const [name, remote] of args.remotes) {
    const s = remote.stats();
    const u = args.uploads.get(name) ?? { files: 0, bytes: 0 };
    const h: HostRunStats = { ...s, filesUploaded: u.files, bytesUploaded: u.bytes };
    hosts[name] = h;
    for (const k of Object.keys(totals) as (keyof HostRunStats)[]) totals[k] += h[k];
  }
  return {
    command: args.command,
    ok: args.ok,
    timings: args.timings,
    steps: args.steps.map((s) => ({ id: s.id, durationMs: Math.round(s.durationMs), hosts: s.hosts.length, changed: s.hosts.filter((h) => h.status === 'changed').length })),
    hosts,
    totals,
  };
}
