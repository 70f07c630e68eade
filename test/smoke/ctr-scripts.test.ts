/**
 * The ctr scripts run for real with bash, fed on stdin exactly like the transport's `script()`
 * (`bash -s`), against a stand-in `ctr` on PATH (a TEST DOUBLE shell script: containerd cannot run
 * in this unit test). It records every call with what its stdin was. Proves the pitfall fix: a
 * ctr call that read stdin would swallow the rest of the script; every call must get /dev/null.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  fetchScript,
  imagePresentScript,
  importImageScript,
  marker,
  oneShotScript,
  parseEth0Address,
  pullImageScript,
  removeContainersScript,
  removeLeftoversScript,
  serveScript,
} from '../../src/smoke/ctr.js';

const dir = mkdtempSync(join(tmpdir(), 'kubi-fake-ctr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const log = join(dir, 'calls.log');

// TEST DOUBLE: a fake ctr. Reads one byte of stdin if it can (like the real ctr would swallow it),
// logs its argv and where stdin pointed, and answers a few subcommands.
writeFileSync(
  join(dir, 'ctr'),
  `#!/bin/bash
stdin=$(readlink /proc/$$/fd/0)
printf '%s | stdin=%s\\n' "$*" "$stdin" >> ${JSON.stringify(log)}
[ "$stdin" = /dev/null ] || head -c 1 >/dev/null
case "$*" in
  *" version") echo "Client: Version: 1.6.20"; exit 0 ;;
  *"images ls -q") echo docker.io/kubi/busybox:latest ;;
  *"containers ls -q") [ -f ${JSON.stringify(join(dir, 'left'))} ] && echo kubi-verify-old; true ;;
  *"snapshots ls") echo "KEY PARENT KIND" ;;
  *" run --cni --rm "*) echo "2: eth0    inet 10.42.1.7/24 brd 10.42.1.255 scope global eth0\\       valid_lft forever" ;;
  *" run --cni -d "*) exit 0 ;;
  *"tasks exec"*" ip -4 -o addr show eth0") echo "2: eth0    inet 10.42.1.8/24 brd 10.42.1.255 scope global eth0" ;;
  *"tasks exec"*" wget "*) echo "kubi-verify-node2-abc" ;;
  *"images import "*|*"images pull "*) exit 0 ;;
esac
exit 0
`,
);
chmodSync(join(dir, 'ctr'), 0o755);
// timeout must pass through to our fake (the real one is /usr/bin/timeout and execs its argument)
const env = { ...process.env, PATH: `${dir}:${process.env.PATH}` };

function runScript(script: string): string {
  writeFileSync(log, '');
  // the script comes on stdin, like SshHost.script (bash -s); the trailing line proves it all ran
  return execFileSync('bash', ['-s'], { input: `${script}\necho @@script-end`, env, encoding: 'utf8' });
}
const calls = (): string[] => readFileSync(log, 'utf8').split('\n').filter(Boolean);

describe.each([
  ['imagePresent', () => imagePresentScript('docker.io/kubi/busybox:latest')],
  ['importImage', () => importImageScript('docker.io/kubi/busybox:latest')],
  ['pullImage', () => pullImageScript('docker.io/kubi/busybox:latest')],
  ['removeContainers', () => removeContainersScript(['kubi-verify-a', "kubi-verify-'b'"])],
  ['removeLeftovers', () => removeLeftoversScript()],
  ['oneShot', () => oneShotScript('docker.io/kubi/busybox:latest', 'kubi-verify-1')],
  ['serve', () => serveScript('docker.io/kubi/busybox:latest', 'kubi-verify-net-1', 'kubi-verify-node1-x')],
  ['fetch', () => fetchScript('kubi-verify-net-1', 'kubi-verify-net-1-w', '10.42.2.8')],
])('%s script', (_name, build) => {
  it('runs to its end under bash -s and gives every ctr call /dev/null as stdin', () => {
    const out = runScript(build());
    expect(out).toMatch(/@@script-end\n$/);
    const c = calls();
    expect(c.length).toBeGreaterThan(0);
    for (const line of c) expect(line).toMatch(/ \| stdin=\/dev\/null$/);
    for (const line of c) expect(line).toMatch(/^-n kubi-verify /);
  });
});

describe('script results', () => {
  it('imagePresent: containerd answers and the image is there', () => {
    const out = runScript(imagePresentScript('docker.io/kubi/busybox:latest'));
    expect(marker(out, 'ctr-exit')).toBe('0');
    expect(marker(out, 'image')).toBe('present');
    expect(marker(runScript(imagePresentScript('docker.io/other:1')), 'image')).toBe('missing');
  });

  it('oneShot: the container address, the run exit code, nothing left', () => {
    const out = runScript(oneShotScript('docker.io/kubi/busybox:latest', 'kubi-verify-1'));
    expect(parseEth0Address(out)).toEqual({ ip: '10.42.1.7', prefix: 24 });
    expect(marker(out, 'run-exit')).toBe('0');
    expect(marker(out, 'left')).toBeNull();
    expect(out).not.toContain('@@snapshot-left');
    expect(calls()[0]).toMatch(/^-n kubi-verify run --cni --rm docker\.io\/kubi\/busybox:latest kubi-verify-1 sh -c ip -4 -o addr show eth0 \|/);
  });

  it('removeContainers: kills, removes, and reports what is still there', () => {
    const ids = ['kubi-verify-old'];
    writeFileSync(join(dir, 'left'), '');
    const out = runScript(removeContainersScript(ids));
    rmSync(join(dir, 'left'));
    expect(marker(out, 'left')).toBe('kubi-verify-old');
    expect(calls().some((c) => c.startsWith('-n kubi-verify tasks kill -s KILL kubi-verify-old'))).toBe(true);
    expect(calls().some((c) => c.startsWith('-n kubi-verify containers rm kubi-verify-old'))).toBe(true);
    expect(marker(runScript(removeContainersScript(ids)), 'left')).toBeNull();
  });

  it('fetch: wget inside the container under busybox timeout, never with -T (crashes busybox 1.35)', () => {
    const out = runScript(fetchScript('c1', 'c1-w', '10.42.2.8'));
    expect(out).toContain('kubi-verify-node2-abc');
    expect(marker(out, 'wget-exit')).toBe('0');
    expect(calls()[0]).toMatch(/tasks exec --exec-id c1-w c1 timeout 5 wget -q -O - http:\/\/10\.42\.2\.8:8080\//);
    expect(calls()[0]).not.toMatch(/ -T /);
  });
});
