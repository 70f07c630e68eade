/**
 * The rendered CNI configs, run for real with Debian 12's CNI plugins 1.1.1 (what the lab uses):
 * a tiny CNI runtime (the protocol of the CNI spec: one plugin after another, each given the
 * previous result) drives bridge, host-local, portmap and loopback between two private network
 * namespaces, "node" and "pod" (root; iptables from Debian's package, unpacked into a temp dir).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildBridgeCniContext, kubeNodes, renderBridgeConflist, renderLoopbackConf } from '../../src/render/index.js';
import { allocatePodSubnets } from '../../src/network/pod-subnets.js';
import { fetchDebianPackage, type DebianPackage } from './helpers/debian-package.js';
import { host, sampleInventory } from './helpers/sample.js';

type Json = Record<string, any>;

function startHolder(args: string[], readyLine?: string): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += String(d)));
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`namespace holder exited (${code}): ${err}`)));
    const self = readlinkSync('/proc/self/ns/net');
    const poll = () => {
      try {
        if (readlinkSync(`/proc/${child.pid}/ns/net`) !== self && (!readyLine || out.includes(readyLine))) return resolve(child);
      } catch {
        /* not started yet */
      }
      setTimeout(poll, 20);
    };
    child.stdout!.on('data', (d) => (out += String(d)));
    poll();
  });
}

describe('CNI bridge conflist with real CNI plugins 1.1.1', () => {
  const pkgs: DebianPackage[] = [];
  let dir: string;
  let node: ChildProcess;
  let pod: ChildProcess;
  let pluginDir: string;
  let env: NodeJS.ProcessEnv;

  const inNode = (argv: string[], extra: { env?: NodeJS.ProcessEnv; input?: string } = {}): string =>
    execFileSync('nsenter', [`--net=/proc/${node.pid}/ns/net`, `--mount=/proc/${node.pid}/ns/mnt`, '--', ...argv], {
      encoding: 'utf8',
      env: { ...env, ...extra.env },
      ...(extra.input !== undefined ? { input: extra.input } : {}),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  const inPod = (argv: string[]): string => execFileSync('nsenter', [`--net=/proc/${pod.pid}/ns/net`, '--', ...argv], { encoding: 'utf8', env });

  function cni(command: 'ADD' | 'DEL', conf: Json): Json | null {
    const out = inNode([path.join(pluginDir, conf.type)], {
      input: JSON.stringify(conf),
      env: { CNI_COMMAND: command, CNI_CONTAINERID: 'kubi-render-test', CNI_NETNS: `/proc/${pod.pid}/ns/net`, CNI_IFNAME: 'eth0', CNI_PATH: pluginDir },
    });
    return out.trim() ? (JSON.parse(out) as Json) : null;
  }

  /** What a runtime sends each plugin of a list: its own config plus name, cniVersion, prevResult, runtimeConfig for its capabilities. */
  function pluginConf(list: Json, plugin: Json, prevResult: Json | null): Json {
    return {
      ...plugin,
      name: list.name,
      cniVersion: list.cniVersion,
      ...(prevResult ? { prevResult } : {}),
      ...(plugin.capabilities?.portMappings ? { runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }] } } : {}),
    };
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-cni-'));
    const plugins = fetchDebianPackage('containernetworking-plugins');
    pkgs.push(plugins);
    pluginDir = path.join(plugins.root, 'usr/lib/cni');
    // iptables for ipMasq and portmap: Debian's package unpacked, behind small wrappers on PATH
    const ipt = fetchDebianPackage('iptables');
    pkgs.push(ipt);
    const ip6 = fetchDebianPackage('libip6tc2');
    pkgs.push(ip6);
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    const libs = [ipt, ip6].map((p) => path.join(p.root, 'usr/lib/x86_64-linux-gnu')).join(':');
    for (const tool of ['iptables', 'ip6tables', 'iptables-save', 'iptables-restore', 'ip6tables-save', 'ip6tables-restore']) {
      writeFileSync(
        path.join(bin, tool),
        `#!/bin/sh\nexport LD_LIBRARY_PATH='${libs}' XTABLES_LIBDIR='${path.join(ipt.root, 'usr/lib/x86_64-linux-gnu/xtables')}'\nexec '${path.join(ipt.root, 'usr/sbin/xtables-nft-multi')}' ${tool} "$@"\n`,
      );
      chmodSync(path.join(bin, tool), 0o755);
    }
    env = { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin` };
    // "node": own network and mount namespace (host-local state and iptables lock on private tmpfs); "pod": own network namespace
    node = await startHolder(['--net', '--mount', '--', '/bin/sh', '-c', 'mount -t tmpfs tmpfs /var/lib && mount -t tmpfs tmpfs /run && ip link set lo up && echo ready && exec sleep 600'], 'ready');
    pod = await startHolder(['--net', '--', 'sleep', '600']);
  }, 300_000);

  afterAll(() => {
    for (const p of [pod, node]) if (p?.pid) {
      p.removeAllListeners('exit');
      p.kill('SIGKILL');
    }
    for (const p of pkgs) p.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('sets up the pod with an address of the node subnet, a default route, masquerade and port mappings; and tears it down', () => {
    const inv = sampleInventory();
    const subnets = allocatePodSubnets(kubeNodes(inv).map((h) => h.name), inv.network.podCidr, inv.network.nodeCidrMaskSize);
    const list = JSON.parse(renderBridgeConflist(buildBridgeCniContext(inv, host(inv, 'node2'), subnets))) as Json;
    expect(subnets.node2).toBe('10.42.1.0/24');

    let result: Json | null = null;
    for (const plugin of list.plugins as Json[]) result = cni('ADD', pluginConf(list, plugin, result));
    expect(result!.cniVersion).toBe('1.0.0');
    expect(result!.ips).toEqual([expect.objectContaining({ address: '10.42.1.2/24', gateway: '10.42.1.1' })]);

    expect(inPod(['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).toContain('inet 10.42.1.2/24');
    expect(inPod(['ip', '-4', 'route', 'show', 'default'])).toContain('default via 10.42.1.1 dev eth0');
    expect(inNode(['ip', '-4', '-o', 'addr', 'show', 'dev', 'cni0'])).toContain('inet 10.42.1.1/24');
    expect(inNode(['ip', '-o', 'link', 'show', 'master', 'cni0'])).toMatch(/veth/);
    const nat = inNode(['iptables', '-t', 'nat', '-S']);
    expect(nat).toMatch(/-A POSTROUTING -s 10\.42\.1\.2\/32 .*-j CNI-/); // ipMasq
    expect(nat).toMatch(/MASQUERADE/);
    expect(nat).toMatch(/CNI-HOSTPORT-DNAT/); // portmap
    expect(nat).toMatch(/--dport 8080 .*10\.42\.1\.2:80/);

    // loopback: the runtime hands the whole file to the plugin, header field included
    const lo = JSON.parse(renderLoopbackConf()) as Json;
    cni('ADD', lo);
    expect(inPod(['ip', '-o', 'link', 'show', 'dev', 'lo'])).toMatch(/[<,]UP[,>]/);

    for (const plugin of [...(list.plugins as Json[])].reverse()) cni('DEL', pluginConf(list, plugin, result));
    cni('DEL', lo);
    expect(inPod(['ip', '-o', 'link', 'show'])).not.toContain('eth0');
    expect(inNode(['iptables', '-t', 'nat', '-S'])).not.toMatch(/10\.42\.1\.2/);
  });
});
