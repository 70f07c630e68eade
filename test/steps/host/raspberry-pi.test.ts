/**
 * host.raspberry-pi on the Bookworm and Bullseye Pi facts (reconstructed fixtures of the facts
 * engineer, test/facts/fixtures/) against a scripted fake Pi (a TEST DOUBLE) that simulates the
 * boot partition, /proc/cmdline, the memory controller and a reboot (new boot id, new command
 * line, a connection that must be re-opened). A real Pi is not available here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseFacts } from '../../../src/facts/index.js';
import type { Facts } from '../../../src/facts/types.js';
import { KubiError } from '../../../src/errors.js';
import { hostRaspberryPi, planRaspberryPi, REBOOT_TITLE } from '../../../src/steps/host/raspberry-pi.js';
import { FakeNode } from './fake-node.js';
import { clusterOf, goodFacts, stepCtx, threeNodes } from './context.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'facts', 'fixtures');
const piFacts = (name: string): Facts => parseFacts(readFileSync(path.join(fixtures, name), 'utf8'));

/** TEST DOUBLE: a Raspberry Pi whose kernel reads cmdline.txt at boot. */
class FakePi extends FakeNode {
  bootId = 'boot-1';
  running: string;
  memoryOn: boolean;
  reboots = 0;
  private rebooting = false;
  connected = true;
  /** memory controller state after the next boot, decided from the command line unless forced */
  forceMemoryOffAfterBoot = false;
  /** the boot loader ignores cmdline.txt (reads another file) */
  ignoreCmdlineAtBoot = false;
  /** the host never comes back after a reboot */
  staysDown = false;
  reconnectCalls = 0;

  constructor(facts: Facts) {
    super('node1', '10.77.0.11');
    const pi = facts.raspberryPi!;
    for (const d of ['/boot', '/boot/firmware']) this.dirs.set(d, { mode: 0o755, owner: 'root', group: 'root' });
    this.writeFile(pi.cmdlinePath!, `${pi.cmdline!}\n`, 0o755);
    this.running = `coherent_pool=1M 8250.nr_uarts=1 ${pi.cmdline!}`;
    this.memoryOn = facts.cgroup.memoryController;
    const cmdlinePath = pi.cmdlinePath!;
    this.onScript('observe kernel command line', () => {
      this.mustBeConnected();
      return [
        '',
        '@@kubi:cmdline@@',
        this.files.get(cmdlinePath)!.content.toString('base64'),
        '',
        '@@kubi:mode@@',
        this.files.get(cmdlinePath)!.mode.toString(8),
        '',
        '@@kubi:running@@',
        this.running,
        '',
        '@@kubi:memory@@',
        this.memoryOn ? 'on' : 'off',
        '',
        '@@kubi:boot-id@@',
        this.bootId,
        '',
      ].join('\n');
    });
    this.onExec(
      (a) => a[0] === 'cat' && a[1] === '/proc/sys/kernel/random/boot_id',
      () => {
        this.mustBeConnected();
        return `${this.bootId}\n`;
      },
    );
    this.onExec(
      (a) => a.join(' ') === 'systemctl reboot',
      () => {
        this.rebooting = true;
        this.connected = false;
        return '';
      },
    );
  }

  private mustBeConnected(): void {
    if (!this.connected) throw new KubiError('connection-lost', 'connection to node1 lost');
  }

  /** the transport's reconnect: the host comes back with a new boot (or, staysDown, never answers) */
  override async reconnect(): Promise<void> {
    this.reconnectCalls++;
    if (this.staysDown) throw new KubiError('reconnect-timeout', 'timed out waiting for node1 to accept ssh again (reboot); last error: connection refused');
    if (this.rebooting) {
      this.rebooting = false;
      this.reboots++;
      this.bootId = `boot-${this.reboots + 1}`;
      const cmdline = [...this.files.entries()].find(([p]) => p.endsWith('cmdline.txt'))![1].content.toString('utf8').trim();
      if (!this.ignoreCmdlineAtBoot) this.running = `coherent_pool=1M 8250.nr_uarts=1 ${cmdline}`;
      this.memoryOn = !this.forceMemoryOffAfterBoot && this.running.includes('cgroup_enable=memory');
    }
    this.connected = true;
  }
}

function ctxFor(facts: Facts, node: FakeNode) {
  const inv = threeNodes();
  const all = new Map(inv.hosts.map((h) => [h.name, h.name === 'node1' ? facts : goodFacts(h.name)]));
  return stepCtx(clusterOf(inv, { facts: all }), 'node1', node);
}

describe.each([
  ['Bookworm (arm64, /boot/firmware)', 'rpi-os-bookworm-arm64.reconstructed.txt', '/boot/firmware/cmdline.txt'],
  ['Bullseye (armhf userland on aarch64, /boot)', 'rpi-os-bullseye-armhf-on-aarch64.reconstructed.txt', '/boot/cmdline.txt'],
])('host.raspberry-pi on %s', (_name, fixture, cmdlinePath) => {
  it('plans the cmdline.txt change and one reboot, reboots, comes back with the memory cgroup on, then is up to date', async () => {
    const facts = piFacts(fixture);
    expect(facts.raspberryPi?.cmdlinePath).toBe(cmdlinePath);
    expect(facts.cgroup.memoryController).toBe(false);
    const pi = new FakePi(facts);
    const ctx = ctxFor(facts, pi);

    const plan = await hostRaspberryPi.plan(await hostRaspberryPi.check(ctx), ctx);
    expect(plan.map((c) => c.kind)).toEqual(['file', 'action']);
    expect(plan[0]).toMatchObject({
      kind: 'file',
      path: cmdlinePath,
      action: 'update',
      mode: 0o755,
      content: `${facts.raspberryPi!.cmdline!} cgroup_memory=1 cgroup_enable=memory\n`,
      before: `${facts.raspberryPi!.cmdline!}\n`,
    });
    expect(plan[1]).toMatchObject({ kind: 'action', title: REBOOT_TITLE });

    await hostRaspberryPi.apply!(plan, ctx);
    expect(pi.reboots).toBe(1);
    expect(pi.text(cmdlinePath)).toBe(`${facts.raspberryPi!.cmdline!} cgroup_memory=1 cgroup_enable=memory\n`);
    // the re-check the engine does: nothing left, no second reboot
    expect(await hostRaspberryPi.plan(await hostRaspberryPi.check(ctx), ctx)).toEqual([]);
    expect(pi.reboots).toBe(1);
  });

  it('a file already right but a kernel not rebooted yet: only the reboot', async () => {
    const facts = piFacts(fixture);
    const pi = new FakePi(facts);
    pi.writeFile(cmdlinePath, `${facts.raspberryPi!.cmdline!} cgroup_memory=1 cgroup_enable=memory\n`, 0o755);
    const ctx = ctxFor(facts, pi);
    const plan = await hostRaspberryPi.plan(await hostRaspberryPi.check(ctx), ctx);
    expect(plan.map((c) => c.kind)).toEqual(['action']);
  });

  it('memory cgroup still off after booting with the arguments: apply fails clearly, the re-check too, no reboot loop', async () => {
    const facts = piFacts(fixture);
    const pi = new FakePi(facts);
    pi.forceMemoryOffAfterBoot = true;
    const ctx = ctxFor(facts, pi);
    const err = await hostRaspberryPi.apply!(await hostRaspberryPi.plan(await hostRaspberryPi.check(ctx), ctx), ctx).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KubiError);
    expect((err as KubiError).code).toBe('memory-cgroup-off');
    expect((err as KubiError).message).toMatch(/rebooted with cgroup_memory=1 cgroup_enable=memory, but the memory cgroup is still off/);
    const observed = await hostRaspberryPi.check(ctx);
    expect(() => planRaspberryPi(observed, 'node1')).toThrow(/the memory cgroup is still off although the kernel booted with cgroup_memory=1 cgroup_enable=memory/);
    expect(pi.reboots).toBe(1);
  });
});

describe('host.raspberry-pi elsewhere', () => {
  it('does nothing (and reads nothing) on a host that is not a Pi', async () => {
    const node = new FakeNode('node1');
    const ctx = ctxFor(goodFacts('node1'), node);
    expect(await hostRaspberryPi.plan(await hostRaspberryPi.check(ctx), ctx)).toEqual([]);
    expect(node.calls).toEqual([]);
  });

  it('no reboot when cmdline.txt is right and the kernel booted with it', async () => {
    const facts = piFacts('rpi-os-bookworm-arm64.reconstructed.txt');
    const pi = new FakePi(facts);
    const ctx = ctxFor(facts, pi);
    await hostRaspberryPi.apply!(await hostRaspberryPi.plan(await hostRaspberryPi.check(ctx), ctx), ctx);
    expect(pi.reboots).toBe(1);
    const plan = await hostRaspberryPi.plan(await hostRaspberryPi.check(ctx), ctx);
    expect(plan).toEqual([]);
    await hostRaspberryPi.apply!(plan, ctx);
    expect(pi.reboots).toBe(1);
    expect(pi.reconnectCalls).toBe(1);
  });

  it('the boot loader ignored cmdline.txt: a clear error after the reboot, not a second reboot', async () => {
    const facts = piFacts('rpi-os-bookworm-arm64.reconstructed.txt');
    const pi = new FakePi(facts);
    pi.ignoreCmdlineAtBoot = true;
    const ctx = ctxFor(facts, pi);
    const plan = await hostRaspberryPi.plan(await hostRaspberryPi.check(ctx), ctx);
    await expect(hostRaspberryPi.apply!(plan, ctx)).rejects.toMatchObject({
      code: 'pi-cmdline-not-used',
      message: expect.stringMatching(/the kernel did not boot with cgroup_memory=1 cgroup_enable=memory \(\/boot\/firmware\/cmdline.txt has them\)/),
    });
    expect(pi.reboots).toBe(1);
  });

  it('a Pi that never comes back: reboot-timeout naming the host and the last error', async () => {
    const facts = piFacts('rpi-os-bookworm-arm64.reconstructed.txt');
    const pi = new FakePi(facts);
    pi.staysDown = true;
    const ctx = ctxFor(facts, pi);
    const plan = await hostRaspberryPi.plan(await hostRaspberryPi.check(ctx), ctx);
    const err = await hostRaspberryPi.apply!(plan, ctx).then(
      () => null,
      (e: unknown) => e as KubiError,
    );
    expect(err?.code).toBe('reboot-timeout');
    expect(err?.host).toBe('node1');
    expect(err?.message).toMatch(/waiting for node1 to come back with a new boot id after a reboot; last: timed out waiting for node1 to accept ssh again/);
    expect(pi.reconnectCalls).toBeGreaterThan(1);
  });
});
