/**
 * Checksum records: the host-side quick check that spares a converged run from re-hashing large
 * files (the etcd, containerd and CNI binaries are ~170 MiB per host; hashing them on every run
 * cost ~0.35 s of CPU per host here, more on a Raspberry Pi).
 *
 * After the executor uploads files of at least RECORD_MIN_BYTES, one script per host hashes each
 * once more and, when its stat identity (device, inode, size, mtime and ctime in nanoseconds) did
 * not change while hashing and the hash is the one uploaded, writes `<RECORD_DIR>/<sha256 of the
 * path>`: `kubi-checksum 1 <identity> <sha256>`. The observe script (src/steps/lib/observe.ts)
 * trusts a record only while the file's identity is still exactly the recorded one, and hashes
 * otherwise; it only reads records (check stays read-only). Any write, chmod, chown or
 * replacement of the file changes its ctime or inode, and ctime cannot be set from user space,
 * so a changed file is never taken for the recorded one. The blind spot, as with git's index, is
 * a write landing within the same clock tick as the record's own stat.
 */
import { createHash } from 'node:crypto';
import { quoteWord } from '../transport/quote.js';

export const RECORD_DIR = '/var/lib/kubi-provision/checksums';
/** smaller files are simply hashed: a record would cost more than it saves */
export const RECORD_MIN_BYTES = 1024 * 1024;
/** GNU stat format of the identity; validated by IDENTITY_RE in the scripts (old coreutils without %.9Y never match) */
export const IDENTITY_FORMAT = '%d %i %s %.9Y %.9Z';
/** bash regex an identity must match (old coreutils without %.9Y never match) */
export const IDENTITY_RE_BASH = '^[0-9]+ [0-9]+ [0-9]+ [0-9]+\\.[0-9]{9} [0-9]+\\.[0-9]{9}$';
const IDENTITY_RE = IDENTITY_RE_BASH;

/** Where the record of `path` lives on the host. */
export function recordPath(path: string, dir: string = RECORD_DIR): string {
  return `${dir}/${createHash('sha256').update(path).digest('hex')}`;
}

/**
 * bash function `krec PATH RECORD`: prints the recorded sha256 when RECORD matches PATH's current
 * identity, nothing otherwise (no record, unreadable, stale, or a stat without %.9Y).
 */
export const RECORD_LOOKUP_FUNCTION = [
  'krec() {',
  '  [ -f "$2" ] || return 0',
  `  local id rec re='${IDENTITY_RE}'`,
  `  id=$(stat -L -c '${IDENTITY_FORMAT}' -- "$1" 2>/dev/null) || return 0`,
  '  [[ $id =~ $re ]] || return 0',
  '  rec=$(cat -- "$2" 2>/dev/null) || return 0',
  '  [ "${rec% *}" = "kubi-checksum 1 $id" ] || return 0',
  '  printf %s "${rec##* }"',
  '}',
].join('\n');

/** The (bash) script that records the files just uploaded; best effort: it never fails the run. */
export function recordScript(files: readonly { path: string; sha256: string }[], dir: string = RECORD_DIR): string {
  const lines = [
    'umask 077',
    `mkdir -p -- ${quoteWord(dir)} 2>/dev/null || exit 0`,
    'kw() {',
    `  local a b h re='${IDENTITY_RE}'`,
    `  a=$(stat -L -c '${IDENTITY_FORMAT}' -- "$1" 2>/dev/null) || return 0`,
    '  [[ $a =~ $re ]] || return 0',
    '  h=$(sha256sum < "$1" 2>/dev/null) || return 0',
    `  b=$(stat -L -c '${IDENTITY_FORMAT}' -- "$1" 2>/dev/null) || return 0`,
    '  if [ "$a" != "$b" ] || [ "${h%% *}" != "$3" ]; then rm -f -- "$2"; return 0; fi',
    '  printf \'kubi-checksum 1 %s %s\\n\' "$a" "$3" > "$2.tmp" && mv -f -- "$2.tmp" "$2"',
    '}',
  ];
  for (const f of files) lines.push(`kw ${quoteWord(f.path)} ${quoteWord(recordPath(f.path, dir))} ${quoteWord(f.sha256)}`);
  lines.push('exit 0');
  return lines.join('\n') + '\n';
}
