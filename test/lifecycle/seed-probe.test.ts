/**
 * The seed probe script of etcd.members / replace with the REAL bash: etcdctl is asked only while
 * etcd.service runs (a member that is not running made every probe wait for etcdctl's timeouts).
 * TEST DOUBLES (named as such): `systemctl` and `etcdctl` are small scripts, because this machine
 * has no systemd as PID 1 and no etcd: they print a unit state and record their calls.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ETCDCTL_BIN } from '../../src/steps/etcd/etcdctl.js';
import { parseSeedProbe, seedProbeScript } from '../../src/steps/lifecycle/etcd-cluster.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-seed-probe-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function probe(unitState: string): { out: string; etcdctlCalls: string[] } {
  const bin = path.join(dir, `bin-${unitState}`);
  const calls = path.join(dir, `calls-${unitState}`);
  spawnSync('mkdir', ['-p', bin]);
  writeFileSync(path.join(bin, 'systemctl'), `#!/bin/sh\necho ${unitState}\n[ ${unitState} = active ]\n`);
  const etcdctl = path.join(bin, 'etcdctl');
  writeFileSync(etcdctl, `#!/bin/sh\necho "$*" >> ${calls}\ncase "$*" in *health*) echo '[{"endpoint":"https://127.0.0.1:2379","health":true,"took":"1ms"}]';; esac\n`);
  chmodSync(path.join(bin, 'systemctl'), 0o755);
  chmodSync(etcdctl, 0o755);
  const script = seedProbeScript().split(ETCDCTL_BIN).join(etcdctl);
  const r = spawnSync('bash', ['-s'], { input: script, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
  expect(r.status).toBe(0);
  return { out: r.stdout, etcdctlCalls: existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : [] };
}

describe('seedProbeScript (real bash)', () => {
  it('does not run etcdctl while etcd.service is not running, and reports the unit state', () => {
    for (const state of ['inactive', 'failed']) {
      const r = probe(state);
      expect(r.etcdctlCalls).toEqual([]);
      expect(parseSeedProbe('node2', r.out)).toEqual({ name: 'node2', state: 'down', detail: `etcd.service is ${state}` });
    }
  });

  it('asks etcdctl for health and status while the unit runs', () => {
    const r = probe('active');
    expect(r.etcdctlCalls).toHaveLength(2);
    expect(r.etcdctlCalls[0]).toContain('endpoint health');
    expect(r.etcdctlCalls[1]).toContain('endpoint status');
    expect(parseSeedProbe('node1', r.out).state).toBe('healthy');
  });
});
