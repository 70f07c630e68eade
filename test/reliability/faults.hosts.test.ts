/**
 * Network faults and a reboot in the middle of a step (issue 10), on a 3-node lab (kubirelnet,
 * 10.169.2.0/24), with small ssh timeouts in a copy of the lab inventory (connect 5 s, command 20 s):
 *  1. node2 unreachable from the start: `up` fails naming node2, within the bound;
 *  2. node2's traffic dropped (nft on the lab bridge, inside the lab namespace only) while
 *     etcd.install uploads to it: `up` fails naming node2 and etcd.install, within the bound
 *     (it never hangs); traffic restored, the re-run converges with no partial or temp file;
 *  3. node2 rebooted (`systemctl reboot` inside the container) while etcd.install uploads to it:
 *     likewise.
 * "Within the bound" is a bound on hanging (command timeout + connect timeout + a generous margin
 * for a loaded machine), not a speed check. `lab down` always runs in afterAll.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from './helpers.js';
import { dropTraffic, inventoryVariant, kubi, restoreTraffic, snapshot, ssh, startRelLab, type RelLab } from './lab-kit.js';

const LAB = 'kubirelnet';
const SUBNET = '10.169.2.0/24';
const CONNECT_MS = 5_000;
const COMMAND_MS = 20_000;
/** how long a failing run may take at most before it counts as hanging */
const HANG_BOUND_MS = COMMAND_MS + CONNECT_MS + 90_000;
const NFT_TABLE = 'kubirelfault';
const ETCD_FILES = ['/usr/local/bin/etcd', '/usr/local/bin/etcdctl'];

let work: string;
let lab: RelLab;
let fast: string;
const figures = { faults: 0, recovered: 0 };

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'kubi-rel-net-'));
  lab = await startRelLab(LAB, SUBNET, work);
  fast = inventoryVariant(lab, 'fast', (inv) => {
    inv.ssh.connectTimeoutMs = CONNECT_MS;
    inv.ssh.commandTimeoutMs = COMMAND_MS;
  });
  // etcd converged once, so each fault below hits a re-install on node2 only
  const r = await kubi(lab, ['up', fast, '--until', 'etcd'], 900_000);
  expect(r.status, r.stderr.slice(-3000)).toBe(0);
}, 1_500_000);

afterAll(async () => {
  if (lab) await restoreTraffic(lab, NFT_TABLE);
  await lab?.handle.down();
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(`[reliability] faults: ${figures.faults} injected, ${figures.recovered} recovered by a re-run`);
}, 300_000);

/** Remove node2's etcd binaries, so the next up uploads 40 MB to it in etcd.install. */
async function forceUpload(): Promise<void> {
  await ssh(lab, 'node2', `systemctl stop etcd.service; rm -f ${ETCD_FILES.join(' ')}`);
}

/** Start `up`, wait until the run log shows `host-start <step>` for node2, then inject the fault. */
async function faultDuring(step: string, inject: () => Promise<void>) {
  const run = startCli(['up', fast, '--until', 'etcd'], { cwd: lab.dir });
  const started = Date.now();
  let injectedAt = 0;
  for (;;) {
    const log = /run log: (\S+)/.exec(run.output().stderr)?.[1];
    if (log && existsSync(log) && readFileSync(log, 'utf8').includes(` node2 host-start ${step}`)) break;
    if (Date.now() - started > 600_000) throw new Error(`${step} never started on node2`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // into the transfer: give the upload a moment to be on the wire
  await new Promise((r) => setTimeout(r, 300));
  await inject();
  injectedAt = Date.now();
  figures.faults++;
  const bound = setTimeout(() => run.kill('SIGKILL'), HANG_BOUND_MS);
  const res = await run.done;
  clearTimeout(bound);
  return { ...res, afterFaultMs: Date.now() - injectedAt };
}

async function waitForSsh(node: string): Promise<void> {
  const until = Date.now() + 180_000;
  while (Date.now() < until) {
    const r = await ssh(lab, node, 'systemctl is-system-running --wait >/dev/null 2>&1; true', { allowFailure: true, timeoutMs: 60_000 });
    if (r.code === 0) return;
    await new Promise((res) => setTimeout(res, 2000));
  }
  throw new Error(`${node} did not come back`);
}

/** The re-run converges; node2's etcd binaries are whole and nothing is left beside them. */
async function rerunConverges(label: string): Promise<void> {
  const r = await kubi(lab, ['up', fast, '--until', 'etcd'], 900_000);
  expect(r.status, `${label}: re-run: ${r.stderr.slice(-3000)}`).toBe(0);
  const again = await kubi(lab, ['up', fast, '--until', 'etcd'], 900_000);
  expect(again.stdout, `${label}: a second re-run still changes things`).toMatch(/up to date/);
  const s = await snapshot(lab, 'node2', ETCD_FILES);
  for (const f of ETCD_FILES) expect(s.files.get(f)!.size, `${label}: node2:${f}`).toBeGreaterThan(1_000_000);
  expect(s.temps, `${label}: temp files on node2`).toEqual([]);
  figures.recovered++;
}

describe('faults in the middle of a step: the run fails naming host and step, never hangs; the re-run converges', () => {
  it('1. node2 unreachable from the start: up fails naming node2 within the bound', async () => {
    await dropTraffic(lab, lab.address('node2'), NFT_TABLE);
    figures.faults++;
    try {
      const t0 = Date.now();
      const r = await kubi(lab, ['up', fast, '--until', 'etcd'], HANG_BOUND_MS);
      const took = Date.now() - t0;
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/node2/);
      expect(r.stderr).toMatch(/timed out|timeout|unreachable|connect/i);
      console.log(`[reliability] unreachable node2: failed after ${(took / 1000).toFixed(1)} s: ${r.stderr.trim().split('\n').filter((l) => /node2/.test(l)).slice(0, 2).join(' | ')}`);
    } finally {
      await restoreTraffic(lab, NFT_TABLE);
    }
    await rerunConverges('unreachable');
  }, 900_000);

  it('2. node2 traffic dropped during etcd.install: fails naming node2 and etcd.install, no hang; restored, converges', async () => {
    await forceUpload();
    let r;
    try {
      r = await faultDuring('etcd.install', () => dropTraffic(lab, lab.address('node2'), NFT_TABLE));
    } finally {
      await restoreTraffic(lab, NFT_TABLE);
    }
    expect(r.signal, `the run still ran ${HANG_BOUND_MS} ms after the fault: hung`).toBeNull();
    expect(r.status).toBe(1);
    const failure = r.stdout + r.stderr;
    expect(failure).toMatch(/node2/);
    expect(failure).toMatch(/etcd\.install/);
    console.log(`[reliability] traffic dropped: failed ${(r.afterFaultMs / 1000).toFixed(1)} s after the fault: ${failure.trim().split('\n').filter((l) => /failed/.test(l)).slice(-1)[0]}`);
    await rerunConverges('traffic dropped');
  }, 1_200_000);

  it('3. node2 rebooted during etcd.install: fails naming node2 and etcd.install, no hang; back up, converges', async () => {
    await forceUpload();
    const bootBefore = (await ssh(lab, 'node2', 'ps -o lstart= -p 1')).stdout.trim();
    const r = await faultDuring('etcd.install', async () => {
      await ssh(lab, 'node2', '(sleep 0.2; systemctl reboot) >/dev/null 2>&1 &', { allowFailure: true, timeoutMs: 10_000 });
    });
    expect(r.signal, `the run still ran ${HANG_BOUND_MS} ms after the reboot: hung`).toBeNull();
    expect(r.status).toBe(1);
    const failure = r.stdout + r.stderr;
    expect(failure).toMatch(/node2/);
    expect(failure).toMatch(/etcd\.install/);
    console.log(`[reliability] rebooted: failed ${(r.afterFaultMs / 1000).toFixed(1)} s after the reboot: ${failure.trim().split('\n').filter((l) => /failed/.test(l)).slice(-1)[0]}`);
    await waitForSsh('node2');
    expect((await ssh(lab, 'node2', 'ps -o lstart= -p 1')).stdout.trim(), 'node2 did not reboot').not.toBe(bootBefore);
    await rerunConverges('rebooted');
  }, 1_200_000);
});
