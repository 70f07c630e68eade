/**
 * Batched read-only commands: many exec/script/getFile calls of one host sent as ONE round trip.
 *
 * `plan` (and the converged check `up` makes first) runs the read-only `check` of every step on
 * every host at once (src/engine/prefetch.ts). Their commands are queued here for a short window
 * and then sent together: one bash program (on stdin, never on the command line) writes each
 * command's stdout, stderr and exit code into a private temp directory (mktemp -d, 0700), runs
 * the commands side by side, waits for all, and prints them back framed by a random tag with
 * their byte counts, so any output (binary, or containing the tag) is returned exactly.
 *
 * What this file owns is pure (the program, the parser) plus the queue that groups calls; the
 * SSH side (sudo, logging each command, redaction, errors) is SshHost's (ssh.ts).
 */
import { KubiError } from '../errors.js';

/** One queued command: a shell command line (already quoted) or a bash script. */
export type BatchItem = { kind: 'line'; line: string } | { kind: 'script'; script: string };

export interface BatchItemResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** Exit code the program uses when it cannot even create its temp directory. */
export const BATCH_SETUP_EXIT = 97;

/**
 * The bash program that runs `items` side by side and prints a table, then the bytes:
 *   `<tag> <count>`
 *   `<i> <exit> <stdout bytes> <stderr bytes>`   (one line per item, 1-based, in order)
 *   stdout of item 1, stderr of item 1, stdout of item 2, ...
 * A few processes per batch (mktemp, one stat, one cat) plus each item's own: a batch replaces
 * round trips without adding per-command cost on the host. Items get no timeout of their own:
 * the transport's timeout of the whole batch ends a stuck one (and then every item fails, so
 * each runs again on its own, with its own timeout). `tag` must be random per batch (it also
 * closes each script's heredoc).
 */
export function batchProgram(items: readonly BatchItem[], tag: string): string {
  if (!/^[A-Za-z0-9-]{8,}$/.test(tag)) throw new Error(`batch tag must be 8+ letters, digits or dashes, got "${tag}"`);
  const n = items.length;
  const out: string[] = [
    'set +e',
    `d=$(mktemp -d "\${TMPDIR:-/tmp}/kubi-batch.XXXXXX") || { echo "kubi-batch: cannot create a temp directory" >&2; exit ${BATCH_SETUP_EXIT}; }`,
    `trap 'rm -rf -- "$d"' EXIT`,
  ];
  items.forEach((item, index) => {
    const i = index + 1;
    let run: string;
    if (item.kind === 'script') {
      if (item.script.split('\n').includes(tag)) throw new Error('a batched script contains the batch tag on a line of its own');
      out.push(`cat >"$d/${i}.sh" <<'${tag}'`, item.script, tag);
      run = `bash "$d/${i}.sh"`;
    } else {
      run = item.line; // a complete quoted command (quoted newlines are part of its words)
    }
    out.push(`{ ${run}`, `echo $? >"$d/${i}.c"; } </dev/null >"$d/${i}.o" 2>"$d/${i}.e" &`);
  });
  out.push(
    'wait',
    'f=()',
    `for ((i=1; i<=${n}; i++)); do f+=("$d/$i.o" "$d/$i.e"); done`,
    'mapfile -t z < <(stat -c %s -- "${f[@]}")',
    `echo ${tag} ${n}`,
    `for ((i=1; i<=${n}; i++)); do`,
    '  c=; read -r c <"$d/$i.c"',
    '  echo "$i ${c:-255} ${z[2*i-2]:--1} ${z[2*i-1]:--1}"',
    'done',
    'cat -- "${f[@]}"',
  );
  return out.join('\n') + '\n';
}

/** Split the program's output back into `count` results; throws when it is not exactly that. */
export function parseBatchOutput(stdout: Buffer, tag: string, count: number): BatchItemResult[] {
  let at = 0;
  const nextLine = (): string => {
    const eol = stdout.indexOf(0x0a, at);
    if (eol < 0) throw malformed('the table of results is cut short');
    const line = stdout.subarray(at, eol).toString('latin1');
    at = eol + 1;
    return line;
  };
  if (nextLine() !== `${tag} ${count}`) throw malformed('no table of results');
  const table: { exitCode: number; outBytes: number; errBytes: number }[] = [];
  for (let i = 1; i <= count; i++) {
    const m = /^(\d+) (\d+) (\d+) (\d+)$/.exec(nextLine());
    if (!m || Number(m[1]) !== i) throw malformed(`no result line for command ${i} of ${count}`);
    table.push({ exitCode: Number(m[2]), outBytes: Number(m[3]), errBytes: Number(m[4]) });
  }
  const results: BatchItemResult[] = [];
  for (const t of table) {
    if (at + t.outBytes + t.errBytes > stdout.length) throw malformed('the output is cut short');
    results.push({
      exitCode: t.exitCode,
      stdout: stdout.subarray(at, at + t.outBytes),
      stderr: stdout.subarray(at + t.outBytes, at + t.outBytes + t.errBytes),
    });
    at += t.outBytes + t.errBytes;
  }
  if (at !== stdout.length) throw malformed(`${stdout.length - at} bytes after the last command's output`);
  return results;
}

function malformed(detail: string): KubiError {
  return new KubiError('batch-output', `a batch of read-only commands returned output that cannot be split: ${detail}`, {
    hint: 'the host may lack bash, mktemp, wc or cat, or its /tmp may be full: run with the run log and report it',
  });
}

interface Pending<T, R> {
  item: T;
  resolve(r: R): void;
  reject(e: unknown): void;
}

/**
 * Groups calls that arrive within `windowMs` of the first one (or until `maxItems`) per key
 * (sudo or not) and hands each group to `send`, which returns one result per item in order.
 * A failing `send` fails every item of its group.
 */
export class BatchQueue<T, R> {
  private readonly groups = new Map<string, Pending<T, R>[]>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly send: (key: string, items: T[]) => Promise<R[]>,
    private readonly opts: { windowMs: number; maxItems: number },
  ) {}

  add(key: string, item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let group = this.groups.get(key);
      if (!group) {
        group = [];
        this.groups.set(key, group);
      }
      group.push({ item, resolve, reject });
      if (group.length >= this.opts.maxItems) this.flushGroup(key);
      else if (!this.timer) this.timer = setTimeout(() => this.flushAll(), this.opts.windowMs);
    });
  }

  private flushAll(): void {
    this.timer = null;
    for (const key of [...this.groups.keys()]) this.flushGroup(key);
  }

  private flushGroup(key: string): void {
    const group = this.groups.get(key);
    this.groups.delete(key);
    if (!group || group.length === 0) return;
    Promise.resolve()
      .then(() => this.send(key, group.map((p) => p.item)))
      .then(
      (results) => group.forEach((p, i) => p.resolve(results[i]!)),
      (e: unknown) => group.forEach((p) => p.reject(e)),
    );
  }
}
