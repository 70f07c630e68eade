/**
 * One read-only round trip per host: a bash script that reports, for each requested path,
 * whether it exists, its type, sha256, mode, owner and group (and its content, base64, for
 * small files when asked), and for each requested systemd unit `is-enabled` / `is-active`.
 * A large file the executor uploaded has a checksum record (src/engine/checksum-records.ts):
 * while the file's stat identity matches it, its sha256 is taken from there instead of hashing.
 *
 * The script's output is a simple line format parsed by a pure function (`parseObservation`);
 * `formatObservation` is its inverse, so a test double can answer the same script.
 *
 *   kubi-observe 1
 *   f <i> missing
 *   f <i> file <sha256> <mode-octal> <owner> <group> <size>
 *   f <i> dir - <mode-octal> <owner> <group> 0
 *   f <i> other - <mode-octal> <owner> <group> <size>
 *   f <i> unreadable
 *   c <i> <base64 of the content>
 *   C <i>,<j>,... <base64 of the contents of i, j, ... back to back> (split by their sizes)
 *   u <i> <is-enabled> <is-active>
 *   end
 *
 * <i> is the index into the request's `files` / `units`; paths and unit names never appear in
 * the output, so no escaping is needed.
 */
import { KubiError } from '../../errors.js';
import { quoteWord } from '../../transport/quote.js';
import { IDENTITY_FORMAT, IDENTITY_RE_BASH, RECORD_LOOKUP_FUNCTION, recordPath } from '../../engine/checksum-records.js';
import type { RemoteHost } from '../../transport/types.js';

export const OBSERVE_MARKER = '# kubi-observe-request ';
export const DEFAULT_MAX_CONTENT_BYTES = 256 * 1024;

export interface ObserveRequest {
  /** absolute paths to observe (symlinks are followed) */
  files?: readonly string[];
  /** paths (among `files`) whose content to bring back when at most maxContentBytes; `true` = all */
  content?: readonly string[] | boolean;
  /** systemd units to observe */
  units?: readonly string[];
  maxContentBytes?: number;
  /** where checksum records live (default RECORD_DIR; tests use a temp directory) */
  recordDir?: string;
}

export type FileType = 'file' | 'dir' | 'other' | 'missing';

export interface ObservedFile {
  path: string;
  type: FileType;
  sha256?: string;
  /** permission bits, e.g. 0o644 */
  mode?: number;
  owner?: string;
  group?: string;
  size?: number;
  /** present when asked for and the file is small enough */
  content?: Buffer;
}

export interface ObservedUnit {
  unit: string;
  /** `systemctl is-enabled`: enabled, disabled, static, masked, ... or `not-found` */
  enabled: string;
  /** `systemctl is-active`: active, inactive, failed, activating, ... */
  active: string;
}

export interface Observation {
  files: Map<string, ObservedFile>;
  units: Map<string, ObservedUnit>;
}

function wantsContent(req: ObserveRequest, path: string): boolean {
  if (req.content === true) return true;
  if (!req.content) return false;
  return req.content.includes(path);
}

/**
 * The fast path of the observe script: ONE `stat` for every existing path, the checksum records
 * read with bash builtins, ONE `sha256sum` for the files without a valid record, ONE
 * `cat | base64` for all wanted contents (a `C` line: the parser splits it by the sizes of the
 * `f` lines), ONE `systemctl show` for all units. A host pays a few processes per check instead
 * of several per path (on 3 lab nodes sharing 2 cores this was most of a converged run's CPU).
 * kfast prints nothing and fails when anything is unusual (a path vanished or unreadable, a stat
 * without %.9Y): the per-path functions then answer, as before. ufast hands units systemd has not
 * loaded (not-found: a unit file not yet daemon-reloaded) or with an unknown state to `ku`.
 */
const FAST_FUNCTIONS = [
  'kfast() {',
  `  local n=\${#P[@]} i k t m o g s id rec h cj ifs re='${IDENTITY_RE_BASH}'`,
  '  local -a ex=() args=() S=() need=() hargs=() HS=() FT=() FH=() FM=() cidx=() cargs=()',
  '  for ((i=0; i<n; i++)); do if [ -e "${P[i]}" ]; then ex+=("$i"); args+=("${P[i]}"); fi; done',
  '  if ((${#args[@]})); then',
  `    mapfile -t S < <(stat -L -c '%F|%a|%U|%G|%s|${IDENTITY_FORMAT}' -- "\${args[@]}" 2>/dev/null)`,
  '    ((${#S[@]} == ${#args[@]})) || return 1',
  '  fi',
  '  for ((k=0; k<${#ex[@]}; k++)); do',
  '    i=${ex[k]}',
  "    IFS='|' read -r t m o g s id <<<\"${S[k]}\" || return 1",
  '    FM[i]="$m $o $g $s"',
  '    case $t in',
  "      'regular file'|'regular empty file')",
  '        FT[i]=file; h=',
  '        if [ -f "${R[i]}" ] && [[ $id =~ $re ]] && read -r rec <"${R[i]}" 2>/dev/null && [ "${rec% *}" = "kubi-checksum 1 $id" ]; then h=${rec##* }; fi',
  '        FH[i]=$h',
  '        if [ -z "$h" ]; then need+=("$i"); hargs+=("${P[i]}"); fi ;;',
  '      directory) FT[i]=dir ;;',
  '      *) FT[i]=other ;;',
  '    esac',
  '  done',
  '  if ((${#hargs[@]})); then',
  '    mapfile -t HS < <(sha256sum -- "${hargs[@]}" 2>/dev/null)',
  '    ((${#HS[@]} == ${#hargs[@]})) || return 1',
  '    for ((k=0; k<${#need[@]}; k++)); do',
  '      h=${HS[k]#\\\\}; h=${h:0:64}',
  '      [[ $h =~ ^[0-9a-f]{64}$ ]] || return 1',
  '      FH[${need[k]}]=$h',
  '    done',
  '  fi',
  '  for ((i=0; i<n; i++)); do',
  '    set -- ${FM[i]:-}',
  '    case ${FT[i]:-missing} in',
  '      missing) echo "f $i missing" ;;',
  '      file) echo "f $i file ${FH[i]} $1 $2 $3 $4"',
  '        if [ "${W[i]}" = 1 ] && [ "$4" -le "$max" ]; then cidx+=("$i"); cargs+=("${P[i]}"); fi ;;',
  '      dir) echo "f $i dir - $1 $2 $3 0" ;;',
  '      other) echo "f $i other - $1 $2 $3 $4" ;;',
  '    esac',
  '  done',
  '  if ((${#cargs[@]})); then',
  '    ifs=$IFS; IFS=,; cj="${cidx[*]}"; IFS=$ifs',
  "    printf 'C %s ' \"$cj\"; cat -- \"${cargs[@]}\" | base64 -w0; echo",
  '  fi',
  '}',
  'ufast() {',
  '  local n=${#U[@]} k=0 line ls= fs= as=',
  '  local -a L=() slow=()',
  '  ((n)) || return 0',
  '  if ! mapfile -t L < <(systemctl show -p LoadState -p UnitFileState -p ActiveState -- "${U[@]}" 2>/dev/null); then L=(); fi',
  '  for line in "${L[@]}" ""; do',
  '    case $line in',
  '      LoadState=*) ls=${line#*=} ;;',
  '      UnitFileState=*) fs=${line#*=} ;;',
  '      ActiveState=*) as=${line#*=} ;;',
  "      '')",
  '        [ -n "$ls$fs$as" ] || continue',
  '        if ((k < n)) && [ "$ls" = loaded ] && [[ $fs =~ ^(enabled|enabled-runtime|disabled|static|indirect|generated|linked|linked-runtime|alias|masked|masked-runtime)$ ]] && [ -n "$as" ]; then',
  '          echo "u $k $fs $as"',
  '        elif ((k < n)); then slow+=("$k"); fi',
  '        k=$((k + 1)); ls= fs= as= ;;',
  '    esac',
  '  done',
  '  if ((k != n)); then for ((k=0; k<n; k++)); do ku "$k" "${U[k]}"; done; return 0; fi',
  '  for k in "${slow[@]}"; do ku "$k" "${U[k]}"; done',
  '}',
].join('\n');

/** The read-only bash script for a request (sent on stdin by RemoteHost.script). */
export function observeScript(req: ObserveRequest): string {
  const max = req.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES;
  const files = req.files ?? [];
  const units = req.units ?? [];
  const lines = [
    OBSERVE_MARKER + JSON.stringify({ files, units, content: files.filter((f) => wantsContent(req, f)), maxContentBytes: max }),
    'set -u',
    'export LC_ALL=C',
    "echo 'kubi-observe 1'",
    'kf() {',
    '  if [ -d "$2" ]; then stat -L -c "f $1 dir - %a %U %G 0" -- "$2"; return; fi',
    '  if [ -f "$2" ]; then',
    '    h=$(krec "$2" "$5")', // a valid checksum record of a large file we uploaded, else hash it
    '    if [ -z "$h" ] && ! h=$(sha256sum < "$2" 2>/dev/null); then echo "f $1 unreadable"; return; fi',
    '    sz=$(stat -L -c %s -- "$2")',
    '    stat -L -c "f $1 file ${h%% *} %a %U %G %s" -- "$2"',
    '    if [ "$3" = 1 ] && [ "$sz" -le "$4" ]; then printf \'c %s \' "$1"; base64 -w0 < "$2"; echo; fi',
    '    return',
    '  fi',
    '  if [ -e "$2" ]; then stat -L -c "f $1 other - %a %U %G %s" -- "$2"; return; fi',
    '  echo "f $1 missing"',
    '}',
    RECORD_LOOKUP_FUNCTION,
    'ku() {',
    '  e=$(systemctl is-enabled -- "$2" 2>/dev/null | head -n1)',
    '  a=$(systemctl is-active -- "$2" 2>/dev/null | head -n1)',
    '  echo "u $1 ${e:-not-found} ${a:-unknown}"',
    '}',
  ];
  // the fast path (kfast/ufast, a handful of processes for all paths and units) first; the
  // per-path functions above answer whatever it cannot (odd files, units systemd has not loaded)
  lines.push(
    `P=(${files.map(quoteWord).join(' ')})`,
    `W=(${files.map((f) => (wantsContent(req, f) ? 1 : 0)).join(' ')})`,
    `R=(${files.map((f) => quoteWord(recordPath(f, req.recordDir))).join(' ')})`,
    `U=(${units.map(quoteWord).join(' ')})`,
    `max=${max}`,
    FAST_FUNCTIONS,
    'if ! kfast; then',
    '  for ((i=0; i<${#P[@]}; i++)); do kf "$i" "${P[i]}" "${W[i]}" "$max" "${R[i]}"; done',
    'fi',
    'ufast',
  );
  lines.push('echo end');
  return lines.join('\n') + '\n';
}

/** The request embedded in a script by observeScript (null when it is not an observe script). */
export function requestOfScript(script: string): Required<Pick<ObserveRequest, 'files' | 'units' | 'maxContentBytes'>> & { content: string[] } | null {
  const first = script.split('\n', 1)[0] ?? '';
  if (!first.startsWith(OBSERVE_MARKER)) return null;
  return JSON.parse(first.slice(OBSERVE_MARKER.length)) as { files: string[]; units: string[]; content: string[]; maxContentBytes: number };
}

function bad(host: string | undefined, detail: string): KubiError {
  return new KubiError('observe-output', `unexpected output from the observe script: ${detail}`, {
    ...(host ? { host } : {}),
    hint: 'the host runs bash with coreutils (stat, sha256sum, base64)? see the run log for the raw output',
  });
}

/** Pure: parse the script's stdout into an Observation. */
export function parseObservation(stdout: string, req: ObserveRequest, host?: string): Observation {
  const files = req.files ?? [];
  const units = req.units ?? [];
  const obs: Observation = { files: new Map(), units: new Map() };
  const lines = stdout.split('\n').filter((l) => l !== '');
  const contentLines: string[] = [];
  if (lines[0] !== 'kubi-observe 1') throw bad(host, `missing header (got ${JSON.stringify((lines[0] ?? '').slice(0, 60))})`);
  if (lines[lines.length - 1] !== 'end') throw bad(host, 'output ends early');
  for (const line of lines.slice(1, -1)) {
    const parts = line.split(' ');
    const [tag, idxText] = parts;
    const idx = tag === 'C' ? 0 : Number(idxText);
    if (!Number.isInteger(idx) || idx < 0) throw bad(host, `bad line ${JSON.stringify(line.slice(0, 80))}`);
    if (tag === 'f') {
      const path = files[idx];
      if (path === undefined) throw bad(host, `unknown file index ${idx}`);
      const type = parts[2];
      if (type === 'missing') obs.files.set(path, { path, type: 'missing' });
      else if (type === 'unreadable') {
        throw new KubiError('observe-unreadable', `cannot read ${path}`, {
          ...(host ? { host } : {}),
          hint: 'the login user needs root or sudo to read it (set ssh.sudo: true in the inventory)',
        });
      } else if ((type === 'file' || type === 'dir' || type === 'other') && parts.length === 8) {
        const f: ObservedFile = {
          path,
          type,
          mode: parseInt(parts[4]!, 8),
          owner: parts[5]!,
          group: parts[6]!,
          size: Number(parts[7]),
        };
        if (type === 'file') f.sha256 = parts[3]!;
        obs.files.set(path, f);
      } else throw bad(host, `bad file line ${JSON.stringify(line.slice(0, 80))}`);
    } else if (tag === 'c') {
      const path = files[idx];
      const f = path === undefined ? undefined : obs.files.get(path);
      if (!f) throw bad(host, `content for unknown file index ${idx}`);
      f.content = Buffer.from(parts[2] ?? '', 'base64');
    } else if (tag === 'C') {
      contentLines.push(line);
    } else if (tag === 'u') {
      const unit = units[idx];
      if (unit === undefined || parts.length !== 4) throw bad(host, `bad unit line ${JSON.stringify(line.slice(0, 80))}`);
      obs.units.set(unit, { unit, enabled: parts[2]!, active: parts[3]! });
    } else throw bad(host, `bad line ${JSON.stringify(line.slice(0, 80))}`);
  }
  for (const line of contentLines) splitContents(line, files, obs, host);
  for (const p of files) if (!obs.files.has(p)) throw bad(host, `no answer for ${p}`);
  for (const u of units) if (!obs.units.has(u)) throw bad(host, `no answer for unit ${u}`);
  return obs;
}

/** A `C <i>,<j>,... <base64>` line: the listed files' contents back to back, split by their sizes. */
function splitContents(line: string, files: readonly string[], obs: Observation, host: string | undefined): void {
  const [, list = '', b64 = ''] = line.split(' ');
  const data = Buffer.from(b64, 'base64');
  let at = 0;
  for (const text of list.split(',')) {
    const path = files[Number(text)];
    const f = path === undefined ? undefined : obs.files.get(path);
    if (!f || f.type !== 'file' || f.size === undefined || !/^\d+$/.test(text)) throw bad(host, `content for unknown file index ${text}`);
    if (at + f.size > data.length) throw bad(host, `${path} changed while it was observed (run again)`);
    f.content = data.subarray(at, at + f.size);
    at += f.size;
  }
  if (at !== data.length) throw bad(host, 'a file changed while it was observed (run again)');
}

/** Pure inverse of parseObservation (what the script prints for an Observation); for test doubles. */
export function formatObservation(obs: Observation, req: ObserveRequest): string {
  const max = req.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES;
  const out = ['kubi-observe 1'];
  (req.files ?? []).forEach((p, i) => {
    const f = obs.files.get(p) ?? { path: p, type: 'missing' as const };
    if (f.type === 'missing') {
      out.push(`f ${i} missing`);
      return;
    }
    const mode = (f.mode ?? 0).toString(8);
    out.push(`f ${i} ${f.type} ${f.type === 'file' ? f.sha256 : '-'} ${mode} ${f.owner ?? 'root'} ${f.group ?? 'root'} ${f.type === 'dir' ? 0 : (f.size ?? 0)}`);
    if (f.type === 'file' && f.content && wantsContent(req, p) && f.content.length <= max) out.push(`c ${i} ${f.content.toString('base64')}`);
  });
  (req.units ?? []).forEach((u, i) => {
    const s = obs.units.get(u);
    out.push(`u ${i} ${s?.enabled ?? 'not-found'} ${s?.active ?? 'inactive'}`);
  });
  out.push('end');
  return out.join('\n') + '\n';
}

/** Observe files and units in ONE round trip (read-only). */
export async function observe(remote: RemoteHost, req: ObserveRequest): Promise<Observation> {
  if ((req.files?.length ?? 0) === 0 && (req.units?.length ?? 0) === 0) return { files: new Map(), units: new Map() };
  const res = await remote.script(observeScript(req), { mutating: false, label: 'observe files and units' });
  return parseObservation(res.stdout, req, remote.name);
}
