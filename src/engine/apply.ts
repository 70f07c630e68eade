/**
 * The generic executor: applies a host step's changes through RemoteHost, in a fixed order:
 * directories, then files and deletions, then commands and scripts (in plan order), then
 * services (one `systemctl daemon-reload` first when any change asks for it, then the other
 * service actions in plan order, each followed by its fingerprint file when it has one).
 * Files of 1 MiB or more also get a checksum record on the host (checksum-records.ts).
 * `action` changes need the step's own apply.
 */
import { KubiError } from '../errors.js';
import { quoteWord } from '../transport/quote.js';
import { sha256 } from '../steps/lib/files.js';
import { RECORD_MIN_BYTES, recordScript } from './checksum-records.js';
import type { RemoteHost } from '../transport/types.js';
import type { Change } from './types.js';

function contentBytes(content: string | Buffer): number {
  return typeof content === 'string' ? Buffer.byteLength(content) : content.length;
}

export function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** The argv that performs a service change (also used by the runbook). */
export function serviceArgv(change: Extract<Change, { kind: 'service' }>): string[] {
  if (change.action === 'daemon-reload') return ['systemctl', 'daemon-reload'];
  if (change.action === 'enable-now') return ['systemctl', 'enable', '--now', change.unit];
  return ['systemctl', change.action, change.unit];
}

/** The shell that records a service fingerprint atomically (also used by the runbook). */
export function fingerprintScript(fp: { path: string; value: string }): string {
  const p = quoteWord(fp.path);
  return [
    'set -eu',
    `mkdir -p "$(dirname ${p})"`,
    `printf '%s\\n' ${quoteWord(fp.value)} > ${p}.kubi-tmp`,
    `chmod 0644 ${p}.kubi-tmp`,
    `mv -f ${p}.kubi-tmp ${p}`,
  ].join('\n');
}

export function chownSpec(owner?: string, group?: string): string | null {
  if (owner && group) return `${owner}:${group}`;
  if (owner) return owner;
  if (group) return `:${group}`;
  return null;
}

/** Apply `changes` on `remote` in the executor's order. Throws on the first failing change. */
export async function applyChanges(remote: RemoteHost, changes: readonly Change[]): Promise<void> {
  const of = <K extends Change['kind']>(k: K) => changes.filter((c): c is Extract<Change, { kind: K }> => c.kind === k);

  const actions = of('action');
  if (actions.length > 0) {
    throw new KubiError('internal', `the generic executor cannot perform "${actions[0]!.title}"`, {
      hint: 'a step that plans action changes must have its own apply()',
    });
  }

  for (const c of of('mkdir')) {
    const argv = ['install', '-d', '-m', octal(c.mode)];
    if (c.owner) argv.push('-o', c.owner);
    if (c.group) argv.push('-g', c.group);
    argv.push('--', c.path);
    await remote.exec(argv, { mutating: true, label: `create directory ${c.path}` });
  }

  for (const c of changes) {
    if (c.kind === 'file') {
      if (c.action === 'chmod') {
        await remote.exec(['chmod', octal(c.mode), '--', c.path], { mutating: true, label: `chmod ${c.path}` });
        const spec = chownSpec(c.owner, c.group);
        if (spec) await remote.exec(['chown', spec, '--', c.path], { mutating: true, label: `chown ${c.path}` });
      } else {
        await remote.putFile(c.path, c.content, {
          mode: c.mode,
          ...(c.owner ? { owner: c.owner } : {}),
          ...(c.group ? { group: c.group } : {}),
          ...(c.secret ? { secret: true } : {}),
          // the plan already compared checksums: do not pay a second round trip to compare again
          skipIfSame: false,
        });
      }
    } else if (c.kind === 'delete') {
      await remote.exec(['rm', c.recursive ? '-rf' : '-f', '--', c.path], { mutating: true, label: `delete ${c.path}` });
    }
  }
  const large = changes.filter((c): c is Extract<Change, { kind: 'file' }> => c.kind === 'file' && c.action !== 'chmod' && contentBytes(c.content) >= RECORD_MIN_BYTES);
  if (large.length > 0) {
    // lets the next check skip re-hashing them (see checksum-records.ts)
    await remote.script(recordScript(large.map((c) => ({ path: c.path, sha256: sha256(c.content) }))), { mutating: true, label: 'record checksums of large files' });
  }

  for (const c of changes) {
    if (c.kind === 'command') await remote.exec(c.argv, { mutating: true, label: c.title });
    else if (c.kind === 'script') await remote.script(c.script, { mutating: true, label: c.title });
  }

  const services = of('service');
  if (services.some((s) => s.action === 'daemon-reload')) {
    await remote.exec(['systemctl', 'daemon-reload'], { mutating: true, label: 'reload systemd units' });
  }
  for (const s of services) {
    if (s.action === 'daemon-reload') continue;
    await remote.exec(serviceArgv(s), { mutating: true, label: `${s.action} ${s.unit}` });
    if (s.fingerprint) {
      await remote.script(fingerprintScript(s.fingerprint), { mutating: true, label: `record fingerprint of ${s.unit}` });
    }
  }
}
