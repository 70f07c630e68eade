/**
 * containerd + CNI layer: on each node a throwaway container (`ctr run --cni --rm`, namespace
 * kubi-verify) gets an address in that node's pod subnet; then a container on every node serves a
 * marker over busybox httpd and every node's container fetches the marker of every other node's
 * (pod-to-pod across nodes, through the pod routes). The smoke image is imported from the local
 * archive (artifacts dir images/busybox-oci.tar) where missing, else pulled; it stays in the
 * kubi-verify namespace for later runs. Containers, tasks and snapshots are always removed.
 */
import type { Host } from '../../inventory/schema.js';
import { cidrContainsAddress, parseCidr, parseIpv4 } from '../../network/ipv4.js';
import { type Check, type CheckOutcome, failed, type Layer, NotRun, passed, retryCheck } from '../check.js';
import { isReachable, nodeHosts, remoteFor, type SmokeContext } from '../context.js';
import {
  fetchScript,
  imagePresentScript,
  importImageScript,
  marker,
  oneShotScript,
  parseEth0Address,
  pullImageScript,
  REMOTE_IMAGE_ARCHIVE,
  removeContainersScript,
  removeLeftoversScript,
  serveScript,
} from '../ctr.js';
import { type Evidence, evidenceFrom, markerExit } from '../evidence.js';

/** Containers this run created per host, removed by the layer cleanup whatever happened. */
const created = new WeakMap<SmokeContext, Map<string, Set<string>>>();

function track(ctx: SmokeContext, host: string, id: string): void {
  let m = created.get(ctx);
  if (!m) created.set(ctx, (m = new Map()));
  if (!m.has(host)) m.set(host, new Set());
  m.get(host)!.add(id);
}

export const containerdLayer: Layer = {
  id: 'containerd',
  title: 'containerd and CNI',
  requires: ['hosts'],
  async plan(ctx) {
    const nodes = nodeHosts(ctx);
    if (nodes.length === 0) return { notRun: 'no server or agent hosts in the inventory' };
    if (ctx.inventory.network.cni !== 'bridge') return { notRun: `cni mode ${ctx.inventory.network.cni}: ctr --cni checks need the bridge CNI config` };
    const checks: Check[] = nodes.map((h) => containerCheck(h));
    checks.push(podToPodCheck);
    return checks;
  },
  async cleanup(ctx) {
    const m = created.get(ctx);
    if (!m) return;
    const problems: string[] = [];
    await Promise.all(
      [...m.entries()].map(async ([host, ids]) => {
        const remote = ctx.remotes.get(host);
        if (!remote || ids.size === 0) return;
        const r = await remote.script(removeContainersScript([...ids]), { sudo: true, allowFailure: true, label: 'verify: remove smoke containers', mutating: true });
        const left = marker(r.stdout, 'left');
        if (left) problems.push(`${host}: containers left behind: ${left.replace(/\s+/g, ', ')}`);
        else ids.clear();
      }),
    );
    if (problems.length > 0) throw new Error(problems.join('; '));
  },
};

/** Make sure the smoke image is in the kubi-verify namespace on `host` (memoized per host). */
async function ensureImage(ctx: SmokeContext, host: string): Promise<string> {
  return ctx.memo(`smoke-image:${host}`, async () => {
    const remote = remoteFor(ctx, host);
    const image = ctx.options.smokeImage;
    const opts = { sudo: true, allowFailure: true, mutating: false } as const;
    const have = await remote.script(imagePresentScript(image), { ...opts, label: 'verify: smoke image present?' });
    if (have.stdout.includes('@@no-ctr')) throw new SmokeStepError(`ctr is not installed on ${host}`, evidenceFrom(host, have, ctx.redact, { label: 'command -v ctr' }));
    const ctrExit = markerExit(have.stdout, 'ctr-exit');
    if (ctrExit !== 0) {
      const service = marker(have.stdout, 'containerd') || 'unknown';
      throw new SmokeStepError(
        `containerd does not answer on ${host} (service ${service})`,
        evidenceFrom(host, have, ctx.redact, { label: 'ctr -n kubi-verify version; systemctl is-active containerd', exitCode: ctrExit }),
      );
    }
    if (marker(have.stdout, 'image') === 'present') return 'already present';
    if (ctx.options.imageArchive) {
      const data = await ctx.readLocalFile(ctx.options.imageArchive);
      if (data) {
        await remote.putFile(REMOTE_IMAGE_ARCHIVE, data, { mode: 0o644, skipIfSame: false });
        const imp = await remote.script(importImageScript(image), { ...opts, mutating: true, label: 'verify: import smoke image' });
        if (marker(imp.stdout, 'image') === 'present') return `imported from ${ctx.options.imageArchive}`;
        throw new SmokeStepError(
          `importing ${ctx.options.imageArchive} on ${host} did not give the image ${image}`,
          evidenceFrom(host, imp, ctx.redact, { label: `ctr -n kubi-verify images import ${REMOTE_IMAGE_ARCHIVE}`, exitCode: markerExit(imp.stdout, 'import-exit') }),
        );
      }
    }
    const pull = await remote.script(pullImageScript(image), { ...opts, mutating: true, label: 'verify: pull smoke image' });
    if (marker(pull.stdout, 'image') === 'present') return 'pulled';
    throw new SmokeStepError(
      `the smoke image ${image} is not on ${host} and could not be pulled${ctx.options.imageArchive ? '' : ' (no local image archive: set artifacts.dir or --image-archive)'}`,
      evidenceFrom(host, pull, ctx.redact, { label: `ctr -n kubi-verify images pull ${image}`, exitCode: markerExit(pull.stdout, 'pull-exit') }),
    );
  });
}

/** A failure with its evidence, turned into a failed row. */
class SmokeStepError extends Error {
  constructor(
    message: string,
    readonly evidence: Evidence,
  ) {
    super(message);
  }
}

function stepFailure(e: unknown): CheckOutcome | null {
  return e instanceof SmokeStepError ? failed(e.message, [e.evidence]) : null;
}

function subnetFor(ctx: SmokeContext, host: string): { cidr: string; perNode: boolean } {
  const s = ctx.podSubnets[host];
  return s ? { cidr: s, perNode: true } : { cidr: ctx.inventory.network.podCidr, perNode: false };
}

function containerCheck(host: Host): Check {
  return {
    id: 'containerd.container',
    layer: 'containerd',
    title: 'a container gets an address in the pod subnet',
    host: host.name,
    async run(ctx) {
      const remote = remoteFor(ctx, host.name);
      try {
        const how = await ensureImage(ctx, host.name);
        await remote.script(removeLeftoversScript(), { sudo: true, allowFailure: true, label: 'verify: remove leftover smoke containers', mutating: true });
        const { cidr, perNode } = subnetFor(ctx, host.name);
        return await retryCheck(ctx, { what: 'a container with CNI networking', host: host.name }, async () => {
          const id = `kubi-verify-${ctx.randomId()}`;
          track(ctx, host.name, id);
          const r = await remote.script(oneShotScript(ctx.options.smokeImage, id), { sudo: true, allowFailure: true, label: 'verify: ctr run --cni', mutating: true });
          const ev = evidenceFrom(host.name, r, ctx.redact, {
            label: `ctr -n kubi-verify run --cni --rm ${ctx.options.smokeImage} ${id} sh -c 'ip -4 -o addr show eth0'`,
            exitCode: markerExit(r.stdout, 'run-exit'),
          });
          const runExit = marker(r.stdout, 'run-exit');
          if (runExit !== '0') return failed(`${host.name}: ctr run --cni failed (exit ${runExit ?? '?'})`, [ev]);
          const addr = parseEth0Address(r.stdout);
          if (!addr) return failed(`${host.name}: the container has no IPv4 address on eth0`, [ev]);
          if (marker(r.stdout, 'left') || r.stdout.includes('@@snapshot-left')) return failed(`${host.name}: container ${id} was not cleaned up`, [ev]);
          if (!cidrContainsAddress(parseCidr(cidr), parseIpv4(addr.ip))) {
            return failed(`${host.name}: the container got ${addr.ip}, outside ${perNode ? `the node's pod subnet ${cidr}` : `the pod CIDR ${cidr}`}`, [ev]);
          }
          return passed(`got ${addr.ip} in ${perNode ? `the node's pod subnet ${cidr}` : `the pod CIDR ${cidr}`}; image ${how}; removed`);
        });
      } catch (e) {
        const f = stepFailure(e);
        if (f) return f;
        throw e;
      }
    },
  };
}

interface Server {
  host: string;
  id: string;
  ip: string;
  marker: string;
}

const podToPodCheck: Check = {
  id: 'containerd.pod-to-pod',
  layer: 'containerd',
  title: 'containers reach each other across nodes',
  stage: 1,
  async run(ctx) {
    const nodes = nodeHosts(ctx).filter((h) => isReachable(ctx, h.name));
    if (nodes.length < 2) throw new NotRun('fewer than two reachable nodes');
    const servers: Server[] = [];
    const problems: string[] = [];
    const evidence: Evidence[] = [];
    try {
      await Promise.all(
        nodes.map(async (h) => {
          try {
            await ensureImage(ctx, h.name);
          } catch (e) {
            problems.push((e as Error).message);
            if (e instanceof SmokeStepError) evidence.push(e.evidence);
            return;
          }
          const id = `kubi-verify-net-${ctx.randomId()}`;
          const mark = `kubi-verify-${h.name}-${ctx.randomId()}`;
          track(ctx, h.name, id);
          const r = await remoteFor(ctx, h.name).script(serveScript(ctx.options.smokeImage, id, mark), {
            sudo: true,
            allowFailure: true,
            label: 'verify: ctr run --cni -d (httpd)',
            mutating: true,
          });
          const addr = parseEth0Address(r.stdout);
          if (marker(r.stdout, 'run-exit') !== '0' || !addr) {
            problems.push(`${h.name}: could not start a serving container`);
            evidence.push(evidenceFrom(h.name, r, ctx.redact, { label: `ctr -n kubi-verify run --cni -d ${ctx.options.smokeImage} ${id} (httpd)`, exitCode: markerExit(r.stdout, 'run-exit') }));
            return;
          }
          servers.push({ host: h.name, id, ip: addr.ip, marker: mark });
        }),
      );
      if (servers.length < 2) return failed(problems.join('; ') || 'fewer than two serving containers', evidence);
      servers.sort((a, b) => a.host.localeCompare(b.host));
      const pairs = servers.flatMap((from) => servers.filter((to) => to !== from).map((to) => ({ from, to })));
      const outcome = await retryCheck(ctx, { what: 'containers to reach each other across nodes' }, async () => {
        const bad: string[] = [];
        const ev: Evidence[] = [];
        await Promise.all(
          servers.map(async (from) => {
            const remote = remoteFor(ctx, from.host);
            let failedHere = false;
            for (const { to } of pairs.filter((p) => p.from === from)) {
              const r = await remote.script(fetchScript(from.id, `${from.id}-w-${ctx.randomId()}`, to.ip), {
                sudo: true,
                allowFailure: true,
                label: 'verify: container to container',
                mutating: false,
              });
              const exit = markerExit(r.stdout, 'wget-exit');
              if (exit === 0 && r.stdout.includes(to.marker)) continue;
              failedHere = true;
              const why = exit === 143 || exit === 124 ? 'timed out' : exit === 0 ? 'wrong answer' : `wget exit ${exit ?? '?'}`;
              bad.push(`${from.host} -> ${to.host} (${from.ip} -> ${to.ip}:8080, ${why})`);
              ev.push(
                evidenceFrom(from.host, r, ctx.redact, {
                  label: `ctr -n kubi-verify tasks exec ${from.id} timeout 5 wget -q -O - http://${to.ip}:8080/`,
                  exitCode: markerExit(r.stdout, 'wget-exit'),
                }),
              );
            }
            if (failedHere) {
              // the routing table of the source node shows a missing pod route at once
              const routes = await remote.exec(['ip', '-4', 'route', 'show'], { sudo: false, allowFailure: true, label: 'verify: routes', mutating: false });
              ev.push(evidenceFrom(from.host, routes, ctx.redact));
            }
          }),
        );
        ev.sort((a, b) => a.host.localeCompare(b.host));
        if (bad.length > 0) return failed(`no answer: ${bad.sort().join(', ')}`, ev);
        return passed(`${pairs.length} pairs answered (${servers.map((s) => `${s.host} ${s.ip}`).join(', ')})`);
      });
      if (problems.length === 0) return outcome;
      if (outcome.status === 'passed') return failed(`${problems.join('; ')} (the others reach each other)`, evidence);
      return { ...outcome, message: `${problems.join('; ')}; ${outcome.message}`, evidence: [...evidence, ...(outcome.evidence ?? [])] };
    } finally {
      await Promise.all(
        servers.map(async (s) => {
          const r = await remoteFor(ctx, s.host)
            .script(removeContainersScript([s.id]), { sudo: true, allowFailure: true, label: 'verify: remove smoke containers', mutating: true })
            .catch(() => null);
          if (r && !marker(r.stdout, 'left')) created.get(ctx)?.get(s.host)?.delete(s.id);
        }),
      );
    }
  },
};
