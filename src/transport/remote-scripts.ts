/**
 * The small POSIX sh programs the transport runs on hosts, with their argv builders and the
 * markers they print. Each runs as `sh -c <program> <name> <args...>`: data arrives on stdin,
 * never on the command line.
 *
 * put: compares the sha256, mode and owner of the existing file first and prints one marker:
 *   SAME  nothing to do (the content is never sent);
 *   META  content equal, mode/owner fixed in place (the content is never sent);
 *   SEND  the transport then streams exactly <size> bytes; they go to a temp file in the same
 *         directory (mktemp `.kubi-put.<name>.XXXXXX`, 0600), are checked against the sha256,
 *         chown/chmod, fsync, then renamed over the target (atomic) and the directory is fsynced;
 *         prints DONE. A transfer cut off (connection gone, TERM) removes its temp file; one left
 *         by a SIGKILL or a reboot is removed by the next put of the same target.
 */

export const PUT_MARK = {
  same: 'KUBI-PUT-SAME',
  meta: 'KUBI-PUT-META',
  send: 'KUBI-PUT-SEND',
  done: 'KUBI-PUT-DONE',
} as const;

const PUT_PROGRAM = `set -u
p=$1 mode=$2 own=$3 want=$4 size=$5 skip=$6
d=$(dirname -- "$p")
if [ ! -d "$d" ]; then echo "kubi-put: directory $d does not exist" >&2; exit 3; fi
if [ -d "$p" ]; then echo "kubi-put: $p is a directory" >&2; exit 3; fi
if [ "$skip" = 1 ] && [ -f "$p" ]; then
  cur=$(sha256sum <"$p") || exit 4
  cur=\${cur%% *}
  if [ "$cur" = "$want" ]; then
    meta=$(stat -L -c '%a %U:%G %u:%g' -- "$p") || exit 4
    m=\${meta%% *}; rest=\${meta#* }; names=\${rest%% *}; ids=\${rest#* }
    ok=1
    [ "$m" = "$mode" ] || ok=0
    case "$own" in
      '') ;;
      *:*) case "$own" in
             :*) [ ":\${names#*:}" = "$own" ] || [ ":\${ids#*:}" = "$own" ] || ok=0 ;;
             *) [ "$names" = "$own" ] || [ "$ids" = "$own" ] || ok=0 ;;
           esac ;;
      *) [ "\${names%%:*}" = "$own" ] || [ "\${ids%%:*}" = "$own" ] || ok=0 ;;
    esac
    if [ $ok = 1 ]; then echo ${PUT_MARK.same}; exit 0; fi
    if [ -n "$own" ]; then chown -- "$own" "$p" || exit 6; fi
    chmod -- "$mode" "$p" || exit 6
    echo ${PUT_MARK.meta}; exit 0
  fi
fi
# temp files are named after the target: an earlier put of it that was cut off (the tool killed,
# the host rebooted) left its temp file behind, and this put removes it
tb="$d/.kubi-put.$(printf '%.100s' "\${p##*/}")"
rm -f -- "$tb".??????
tmp=$(mktemp -- "$tb.XXXXXX") || exit 4
trap 'rm -f -- "$tmp"' EXIT
# the connection may go away mid-transfer: sshd then closes our pipes (a write would raise
# SIGPIPE, which kills sh without its EXIT trap) or a timeout sends TERM; exit through the trap
trap '' PIPE
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
echo ${PUT_MARK.send}
head -c "$size" >"$tmp" || exit 5
n=$(wc -c <"$tmp" | tr -d ' ') || exit 5
got=$(sha256sum <"$tmp") || exit 5
got=\${got%% *}
if [ "$n" != "$size" ] || [ "$got" != "$want" ]; then
  echo "kubi-put: content arrived incomplete or changed ($n of $size bytes)" >&2; exit 5
fi
if [ -n "$own" ]; then chown -- "$own" "$tmp" || exit 6; fi
chmod -- "$mode" "$tmp" || exit 6
sync -- "$tmp" 2>/dev/null || sync
mv -f -- "$tmp" "$p" || exit 7
trap - EXIT
sync -- "$d" 2>/dev/null || true
echo ${PUT_MARK.done}
`;

/** `owner:group`, `owner`, `:group` or '' (chown's own syntax). */
export function chownSpec(owner?: string, group?: string): string {
  if (owner && group) return `${owner}:${group}`;
  if (owner) return owner;
  if (group) return `:${group}`;
  return '';
}

/** Mode as stat %a prints it (no leading zeros): 0o644 -> "644", 0o4755 -> "4755". */
export function modeString(mode: number): string {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new RangeError(`invalid file mode ${mode}`);
  return mode.toString(8);
}

export function putArgv(args: { path: string; mode: number; owner?: string; group?: string; sha256: string; size: number; skipIfSame: boolean }): string[] {
  return [
    'sh',
    '-c',
    PUT_PROGRAM,
    'kubi-put',
    args.path,
    modeString(args.mode),
    chownSpec(args.owner, args.group),
    args.sha256,
    String(args.size),
    args.skipIfSame ? '1' : '0',
  ];
}

export const GET_MISSING_EXIT = 44;
export const GET_MISSING_MARK = 'KUBI-GET-MISSING';

/**
 * get: print the file. "Missing" only when the nearest existing ancestor directory is searchable
 * (so the file really is not there); a permission problem is left to cat to report.
 */
const GET_PROGRAM = `p=$1
if [ -e "$p" ] || [ -L "$p" ]; then exec cat -- "$p"; fi
d=$(dirname -- "$p")
while [ ! -e "$d" ]; do d=$(dirname -- "$d"); done
if [ -d "$d" ] && [ -x "$d" ]; then echo ${GET_MISSING_MARK} >&2; exit ${GET_MISSING_EXIT}; fi
exec cat -- "$p"
`;

export function getArgv(path: string): string[] {
  return ['sh', '-c', GET_PROGRAM, 'kubi-get', path];
}

/**
 * Run a bash script sent on stdin while its commands see /dev/null as stdin (a command that reads
 * stdin, like `ctr run`, would otherwise swallow the rest of the script). bash reads the script
 * through fd 3; the first thing the script does is close that fd so children do not inherit it.
 */
export function scriptArgv(): string[] {
  return ['bash', '-c', 'exec bash /dev/fd/3 3<&0 0</dev/null'];
}

export function scriptPayload(script: string): string {
  return `exec 3<&-; ${script}`;
}

/**
 * Enforce a command's timeout on the host too: coreutils/busybox `timeout` sends TERM to the
 * command's whole process group a second after the transport gives up (and KILL 5 s later).
 * The transport's own timer closes the channel first; this makes sure nothing lingers, even
 * for root logins (OpenSSH does not deliver channel signals to root sessions) or when the
 * connection is gone. 0 or less means no timeout.
 */
export function withRemoteTimeout(argv: readonly string[], timeoutMs: number): string[] {
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) return [...argv];
  return ['timeout', '-k', '5', String(Math.ceil(timeoutMs / 1000) + 1), ...argv];
}

/** The sudo prefix when the login user needs no password (NOPASSWD rule). */
export function sudoNoPasswordArgv(argv: readonly string[]): string[] {
  return ['sudo', '-n', '--', ...argv];
}

/**
 * The sudo prefix when a password is needed: `-k` ignores cached credentials (so sudo always
 * asks), `-S` reads the password from stdin, `-p` prints a unique prompt on stderr; the transport
 * sends the password only after it sees that prompt. Once sudo runs the command, a wrapper prints
 * the `started` marker on stderr, after which stdin belongs to the command.
 */
export function sudoPasswordArgv(argv: readonly string[], markers: { prompt: string; started: string }): string[] {
  return ['sudo', '-k', '-S', '-p', markers.prompt, '--', 'sh', '-c', 'printf %s "$0" >&2; exec "$@"', markers.started, ...argv];
}
