/**
 * Hosts layer: SSH works (and sudo where the login user is not root), facts still match the
 * inventory (arch when set, address on an interface), clock skew between hosts under the limit
 * (sampled with round-trip correction), swap off, kernel modules present, sysctls set (on every
 * host, like the host.swap and host.kernel steps). All read-only; one probe round trip per host
 * for swap, modules and sysctls.
 */
import type { Host } from '../../inventory/schema.js';
import type { RemoteHost } from '../../transport/types.js';
import { type Check, type CheckOutcome, failed, type Layer, passed, warning } from '../check.js';
import { type ClockOffset, type ClockSample, estimateOffset, judgeSkew, parseEpochSeconds } from '../clock.js';
import { isReachable, remoteFor, type SmokeContext } from '../context.js';
import { type Evidence, evidenceFrom } from '../evidence.js';
import { type HostProbe, hostProbeScript, moduleState, parseHostProbe, sysctlMismatches } from '../parse/host.js';

const CLOCK_SAMPLES = 5;

export const hostsLayer: Layer = {
  id: 'hosts',
  title: 'hosts',
  requires: [],
  async plan(ctx) {
    const checks: Check[] = [];
    for (const host of ctx.inventory.hosts) checks.push(sshCheck(host), factsCheck(host), swapCheck(host), modulesCheck(host), sysctlsCheck(host));
    checks.push(clockCheck());
    return checks;
  },
};

function sshCheck(host: Host): Check {
  return {
    id: 'hosts.ssh',
    layer: 'hosts',
    title: 'ssh works',
    host: host.name,
    async run(ctx) {
      if (!isReachable(ctx, host.name)) {
        return failed(`cannot connect to ${host.name} (${host.address}): ${ctx.unreachable.get(host.name) ?? 'no connection'}`);
      }
      const remote = remoteFor(ctx, host.name);
      const t0 = ctx.now();
      const who = await remote.exec(['id', '-un'], { sudo: false, allowFailure: true, label: 'verify: login user', mutating: false });
      const rtt = ctx.now() - t0;
      if (who.exitCode !== 0) return failed(`a command over ssh failed on ${host.name}`, [evidenceFrom(host.name, who, ctx.redact)]);
      const user = who.stdout.trim();
      if (remote.isRoot) return passed(`logged in as ${user}, ${Math.round(rtt)} ms round trip`);
      const sudo = await remote.exec(['id', '-u'], { sudo: true, allowFailure: true, label: 'verify: sudo works', mutating: false });
      if (sudo.exitCode !== 0 || sudo.stdout.trim() !== '0') {
        return failed(`logged in as ${user}, but sudo does not give root on ${host.name}`, [evidenceFrom(host.name, sudo, ctx.redact)]);
      }
      return passed(`logged in as ${user}, sudo works, ${Math.round(rtt)} ms round trip`);
    },
  };
}

function factsCheck(host: Host): Check {
  return {
    id: 'hosts.facts',
    layer: 'hosts',
    title: 'facts match the inventory',
    host: host.name,
    async run(ctx) {
      const remote = remoteFor(ctx, host.name);
      const facts = await ctx.memo(`facts:${host.name}`, () => ctx.gatherFacts(remote));
      const problems: string[] = [];
      if (host.arch && facts.arch !== host.arch) {
        problems.push(`arch is ${facts.arch} (dpkg ${facts.archSource.dpkg ?? '-'}, uname ${facts.archSource.uname}), the inventory says ${host.arch}`);
      }
      const iface = facts.interfaces.find((i) => i.ipv4.some((a) => a.split('/')[0] === host.address));
      if (!iface) {
        const have = facts.interfaces.flatMap((i) => i.ipv4.map((a) => `${i.name} ${a}`)).join(', ') || 'none';
        problems.push(`address ${host.address} is on no interface (found: ${have})`);
      }
      const evidence: Evidence[] = [
        {
          host: host.name,
          command: 'gather facts (script)',
          output: `arch ${facts.arch}; kernel ${facts.kernel.release} ${facts.kernel.machine}; ${facts.os.prettyName}; ` +
            `addresses ${facts.interfaces.flatMap((i) => i.ipv4.map((a) => `${i.name}=${a}`)).join(' ')}`,
        },
      ];
      if (problems.length > 0) return failed(`${host.name}: ${problems.join('; ')}`, evidence);
      return passed(`${facts.arch}${host.arch ? ' as expected' : ''}, ${host.address} on ${iface!.name}`);
    },
  };
}

async function probe(ctx: SmokeContext, host: string): Promise<{ probe: HostProbe; evidence: Evidence }> {
  return ctx.memo(`host-probe:${host}`, async () => {
    const remote = remoteFor(ctx, host);
    const script = hostProbeScript(ctx.options.kernelModules, ctx.options.sysctls.map(([k]) => k));
    const r = await remote.script(script, { sudo: false, allowFailure: true, label: 'verify: swap, modules, sysctls', mutating: false });
    if (r.exitCode !== 0) throw new Error(`the host probe exited with ${r.exitCode}: ${r.stderr.trim().split('\n').at(-1) ?? ''}`);
    return { probe: parseHostProbe(r.stdout), evidence: evidenceFrom(host, r, ctx.redact, { label: 'swap/modules/sysctls probe (script)' }) };
  });
}

function swapCheck(host: Host): Check {
  return {
    id: 'hosts.swap',
    layer: 'hosts',
    title: 'swap is off',
    host: host.name,
    async run(ctx) {
      const { probe: p, evidence } = await probe(ctx, host.name);
      if (p.swapDevices.length > 0) return failed(`${host.name}: swap is on (${p.swapDevices.join(', ')})`, [evidence]);
      return passed('no active swap');
    },
  };
}

function modulesCheck(host: Host): Check {
  return {
    id: 'hosts.modules',
    layer: 'hosts',
    title: 'kernel modules present',
    host: host.name,
    async run(ctx) {
      const { probe: p, evidence } = await probe(ctx, host.name);
      const states = ctx.options.kernelModules.map((m) => moduleState(m, p));
      const missing = states.filter((s) => !s.present);
      const summary = states.map((s) => `${s.name} ${s.how}`).join(', ');
      if (missing.length > 0) return failed(`${host.name}: ${missing.map((s) => `${s.name} ${s.how}`).join(', ')}`, [evidence]);
      return passed(summary);
    },
  };
}

function sysctlsCheck(host: Host): Check {
  return {
    id: 'hosts.sysctls',
    layer: 'hosts',
    title: 'sysctls set',
    host: host.name,
    async run(ctx) {
      const { probe: p, evidence } = await probe(ctx, host.name);
      const bad = sysctlMismatches(ctx.options.sysctls, p);
      if (bad.length > 0) {
        return failed(`${host.name}: ${bad.map((b) => `${b.name} is ${b.actual ?? 'missing'} (want ${b.expected})`).join(', ')}`, [evidence]);
      }
      return passed(ctx.options.sysctls.map(([k, v]) => `${k}=${v}`).join(', '));
    },
  };
}

async function sampleClock(ctx: SmokeContext, remote: RemoteHost): Promise<ClockSample[]> {
  const samples: ClockSample[] = [];
  for (let i = 0; i < CLOCK_SAMPLES; i++) {
    const sentAt = ctx.now();
    const r = await remote.exec(['date', '+%s.%N'], { sudo: false, label: 'verify: clock sample', mutating: false });
    const receivedAt = ctx.now();
    samples.push({ sentAt, receivedAt, remoteMs: parseEpochSeconds(r.stdout) });
  }
  return samples;
}

function clockCheck(): Check {
  return {
    id: 'hosts.clock-skew',
    layer: 'hosts',
    title: 'clock skew between hosts',
    async run(ctx): Promise<CheckOutcome> {
      const hosts = ctx.inventory.hosts.filter((h) => isReachable(ctx, h.name));
      if (hosts.length < 2) return { status: 'not-run', message: 'fewer than two reachable hosts' };
      const errors: Evidence[] = [];
      const offsets: ClockOffset[] = [];
      await Promise.all(
        hosts.map(async (h) => {
          try {
            offsets.push(estimateOffset(h.name, await sampleClock(ctx, remoteFor(ctx, h.name))));
          } catch (e) {
            errors.push({ host: h.name, command: 'date +%s.%N', output: ctx.redact((e as Error).message) });
          }
        }),
      );
      if (errors.length > 0) return failed(`could not read the clock of ${errors.map((e) => e.host).join(', ')}`, errors);
      offsets.sort((a, b) => a.host.localeCompare(b.host));
      const v = judgeSkew(offsets, ctx.options.maxClockSkewMs);
      const evidence: Evidence[] = offsets.map((o) => ({
        host: o.host,
        command: 'date +%s.%N',
        output: `offset to the workstation ${o.offsetMs.toFixed(1)} ms ± ${o.uncertaintyMs.toFixed(1)} ms (best of ${o.samples} samples, rtt ${o.rttMs.toFixed(1)} ms)`,
      }));
      if (v.status === 'failed') return failed(v.message, evidence);
      if (v.status === 'warning') return warning(v.message, evidence);
      return passed(v.message);
    },
  };
}
