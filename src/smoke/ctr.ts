/**
 * Scripts for containerd smoke checks with `ctr` in the `kubi-verify` namespace (pure builders and
 * parsers). Every ctr call reads stdin: the scripts run through `bash -s` (script on stdin), so each
 * ctr line redirects stdin from /dev/null or it would swallow the rest of the script.
 * Containers are named `kubi-verify-*`; cleanup kills their tasks and removes the containers with
 * their snapshots (`ctr containers rm` deletes the snapshot too).
 */
import { quoteWord } from '../transport/quote.js';

export const CTR_NAMESPACE = 'kubi-verify';
/** where an uploaded image archive is written before `ctr image import` (removed right after) */
export const REMOTE_IMAGE_ARCHIVE = '/var/tmp/kubi-verify-image.tar';

const q = quoteWord;
const ctr = (args: string): string => `ctr -n ${CTR_NAMESPACE} ${args} </dev/null`;

/**
 * Does containerd answer (`@@ctr-exit=N` of `ctr version`, with the service state), and is the image
 * there (`@@image=present|missing`)? Prints `@@no-ctr` when ctr is not installed.
 */
export function imagePresentScript(image: string): string {
  return [
    'command -v ctr >/dev/null || { echo "@@no-ctr"; exit 0; }',
    `timeout 15 ${ctr('version')} >/tmp/kubi-verify-ctr.$$ 2>&1; rc=$?; echo "@@ctr-exit=$rc"`,
    'if [ "$rc" != 0 ]; then tail -3 /tmp/kubi-verify-ctr.$$; rm -f /tmp/kubi-verify-ctr.$$; echo "@@containerd=$(systemctl is-active containerd 2>/dev/null)"; exit 0; fi',
    'rm -f /tmp/kubi-verify-ctr.$$',
    `if ${ctr('images ls -q')} | grep -qxF ${q(image)}; then echo "@@image=present"; else echo "@@image=missing"; fi`,
  ].join('\n');
}

/** Import an uploaded archive, remove it, print whether the image is there now. */
export function importImageScript(image: string, archive = REMOTE_IMAGE_ARCHIVE): string {
  return [
    `${ctr(`images import ${q(archive)}`)}; rc=$?`,
    `rm -f ${q(archive)}`,
    `echo "@@import-exit=$rc"`,
    `if ${ctr('images ls -q')} | grep -qxF ${q(image)}; then echo "@@image=present"; else echo "@@image=missing"; ${ctr('images ls -q')}; fi`,
  ].join('\n');
}

export function pullImageScript(image: string): string {
  return [
    `timeout 120 ${ctr(`images pull ${q(image)}`)}; echo "@@pull-exit=$?"`,
    `if ${ctr('images ls -q')} | grep -qxF ${q(image)}; then echo "@@image=present"; else echo "@@image=missing"; fi`,
  ].join('\n');
}

/** Kill and remove the given containers (tasks, containers, snapshots); ignores what is already gone. */
export function removeContainersScript(ids: readonly string[]): string {
  if (ids.length === 0) return 'true';
  const list = ids.map(q).join(' ');
  return [
    `for c in ${list}; do`,
    `  ${ctr('tasks kill -s KILL "$c"')} >/dev/null 2>&1`,
    'done',
    `for c in ${list}; do`,
    `  for i in 1 2 3 4 5 6 7 8 9 10; do ${ctr('tasks rm -f "$c"')} >/dev/null 2>&1 && break; ${ctr('tasks ls -q')} | grep -qxF "$c" || break; sleep 0.5; done`,
    `  ${ctr('containers rm "$c"')} >/dev/null 2>&1`,
    'done',
    `left=$(${ctr('containers ls -q')} | grep -xF ${ids.map((i) => `-e ${q(i)}`).join(' ')} || true)`,
    'if [ -n "$left" ]; then echo "@@left=$left"; fi',
    'true',
  ].join('\n');
}

/** Remove every kubi-verify-* container left behind by an interrupted earlier run. */
export function removeLeftoversScript(): string {
  return [
    'command -v ctr >/dev/null || exit 0',
    `for c in $(${ctr('containers ls -q')} | grep '^kubi-verify-'); do`,
    `  ${ctr('tasks kill -s KILL "$c"')} >/dev/null 2>&1; sleep 0.2`,
    `  ${ctr('tasks rm -f "$c"')} >/dev/null 2>&1`,
    `  ${ctr('containers rm "$c"')} >/dev/null 2>&1 && echo "removed leftover container $c"`,
    'done',
    'true',
  ].join('\n');
}

/**
 * One throwaway container with CNI networking that prints its eth0 address and is removed
 * (`--rm`); then shows whether anything of it is left (container or snapshot).
 */
export function oneShotScript(image: string, id: string): string {
  return [
    `timeout 90 ${ctr(`run --cni --rm ${q(image)} ${q(id)} sh -c 'ip -4 -o addr show eth0'`)}; echo "@@run-exit=$?"`,
    removeContainersScript([id]),
    `${ctr('snapshots ls')} | grep -qF ${q(id)} && echo "@@snapshot-left"`,
    'true',
  ].join('\n');
}

/** A detached container running busybox httpd on :8080 that serves `marker`; prints its eth0 address. */
export function serveScript(image: string, id: string, marker: string): string {
  const cmd = `mkdir -p /www && echo ${marker} >/www/index.html && exec httpd -f -p 8080 -h /www`;
  return [
    `timeout 90 ${ctr(`run --cni -d ${q(image)} ${q(id)} sh -c ${q(cmd)}`)} >/dev/null; echo "@@run-exit=$?"`,
    `${ctr(`tasks exec --exec-id ${q(`${id}-ip`)} ${q(id)} ip -4 -o addr show eth0`)}; echo "@@ip-exit=$?"`,
  ].join('\n');
}

/**
 * From container `from`, fetch http://<ip>:8080/ with busybox wget; prints the body and
 * `@@wget-exit=N`. The time limit is busybox `timeout` inside the container, never wget's own
 * `-T`: Debian 12's busybox-static 1.35 wget crashes (SIGSEGV) with -T.
 */
export function fetchScript(from: string, execId: string, ip: string): string {
  return `timeout 20 ${ctr(`tasks exec --exec-id ${q(execId)} ${q(from)} timeout 5 wget -q -O - ${q(`http://${ip}:8080/`)}`)} 2>&1; echo "@@wget-exit=$?"`;
}

/** `ip -4 -o addr show eth0` output -> "10.42.0.5/24" (first IPv4 address), or null. */
export function parseEth0Address(output: string): { ip: string; prefix: number } | null {
  const m = output.match(/\binet (\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})\b/);
  return m ? { ip: m[1]!, prefix: Number(m[2]) } : null;
}

/** The value of a `@@name=value` marker line, or null. */
export function marker(output: string, name: string): string | null {
  const m = output.match(new RegExp(`^@@${name}=(.*)$`, 'm'));
  return m ? m[1]!.trim() : null;
}
