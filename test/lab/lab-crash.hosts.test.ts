/**
 * `lab down` after a crash: (1) `lab up` killed with SIGKILL while its containers start, (2) a
 * complete lab whose state file was lost. Both times `lab down` must remove every container,
 * process, interface, namespace and mount of the lab. Own namespace and subnet.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labDown } from '../../src/lab/lab.js';
import { readState, stateFile } from '../../src/lab/state.js';
import { leftovers, recordedPids } from '../harness/lab.js';

const NS = 'kubilabcr';
const SUBNET = '10.83.0.0/24';
const STATE_DIR = `/var/lib/kubi-provision/lab/${NS}`;
const CLI = path.join(import.meta.dirname, 'lab-cli.mjs');
let tmp: string;

function lab(...args: string[]) {
  return spawnSync(process.execPath, [CLI, 'lab', args[0]!, '--name', NS, ...args.slice(1)], { encoding: 'utf8', timeout: 600_000 });
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'kubi-lab-crash-'));
  await labDown({ namespace: NS });
});

afterAll(async () => {
  await labDown({ namespace: NS });
  await rm(tmp, { recursive: true, force: true });
});

describe('lab down after a crash', () => {
  it('cleans up after `lab up` was killed while its containers started', async () => {
    const child = spawn(process.execPath, [CLI, 'lab', 'up', '--name', NS, '--subnet', SUBNET, '--nodes', '3', '--inventory', path.join(tmp, 'a.yaml')], { stdio: 'ignore' });
    // kill it as soon as the state file records a started container
    const pids = new Set<number>();
    const deadline = Date.now() + 300_000;
    for (;;) {
      const state = existsSync(stateFile(STATE_DIR)) ? readState(STATE_DIR) : null;
      for (const p of recordedPids(state)) pids.add(p);
      if (state?.nodes.some((n) => n.pid)) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('lab up never recorded a started container');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(readState(STATE_DIR)?.phase).toBe('creating');
    expect(existsSync(`/run/netns/${NS}`)).toBe(true);

    const down = lab('down');
    expect(down.status, down.stderr).toBe(0);
    expect(leftovers(NS, STATE_DIR, [...pids], '10.83.0.1')).toEqual([]);
  });

  it('cleans up a running lab whose state file was lost', () => {
    const up = lab('up', '--subnet', SUBNET, '--nodes', '2', '--inventory', path.join(tmp, 'b.yaml'));
    expect(up.status, up.stderr).toBe(0);
    const pids = recordedPids(readState(STATE_DIR));
    expect(pids.length).toBeGreaterThanOrEqual(5); // 2 inits, 2 monitors, the repo server
    spawnSync('rm', ['-f', stateFile(STATE_DIR)]);

    const down = lab('down');
    expect(down.status, down.stderr).toBe(0);
    expect(leftovers(NS, STATE_DIR, pids, '10.83.0.1')).toEqual([]);
    // the inventory of a lab whose state was lost is left alone (its path was in the lost state)
    expect(readFileSync(path.join(tmp, 'b.yaml'), 'utf8')).toContain('Written by `kubi-provision lab up`');
  });
});
