/**
 * containerd and the bridge CNI on real lab nodes (LXC, 3 nodes), brought up by the tool:
 * `up --only host,containerd,cni` on a fresh lab, then
 *  - on every node, a container started with the tool's CNI configuration (`ctr -n k8s.io run
 *    --cni --rm` with the busybox image from the lab's artifacts directory, stdin from /dev/null)
 *    gets an address in that node's pod subnet (the one saved in <stateDir>/pod-subnets.json);
 *  - containers on two different nodes reach each other (the routes between pod subnets);
 *  - the routes unit restores deleted routes (what it does at boot);
 *  - the installed units pass `systemd-analyze verify` on a node;
 *  - a second run changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { inCidr, kubi, labUp, savedSubnets, upload, type TestLab } from '../steps/k3s/lab.js';

const BUSYBOX = 'docker.io/kubi/busybox:latest';
const ONLY = ['--only', 'host', '--only', 'containerd', '--only', 'cni'];
let lab: TestLab;

const ctr = (args: string): string => `ctr -n k8s.io ${args} </dev/null`;

/** The eth0 IPv4 address printed by `ip -4 -o addr show eth0` inside a container. */
function eth0Address(out: string): string {
  const m = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out);
  if (!m) throw new Error(`no address in: ${out}`);
  return m[1]!;
}

beforeAll(async () => {
  lab = await labUp({ name: 'kubih9c', subnet: '10.191.0.0/24', nodes: 3 });
  const r = await kubi(['up', lab.inventory, '--quiet', ...ONLY]);
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  for (const n of lab.nodes) {
    upload(lab, n.name, path.join(lab.artifactsDir, 'images', 'busybox-oci.tar'), '/root/busybox-oci.tar');
    lab.ssh(n.name, `${ctr('images import /root/busybox-oci.tar')} && rm -f /root/busybox-oci.tar`);
  }
}, 900_000);

afterAll(async () => {
  if (!lab) return;
  for (const n of lab.nodes) lab.sshResult(n.name, `${ctr('tasks kill -s KILL kubi-e2e-peer')} ; sleep 1; ${ctr('tasks rm -f kubi-e2e-peer')} ; ${ctr('containers rm kubi-e2e-peer')} ; true`);
  const r = await lab.down();
  expect(r.status, r.stderr).toBe(0);
});

describe('containerd and the bridge CNI on lab nodes', () => {
  it('the pod subnets are saved, one per node, all different', () => {
    const subnets = savedSubnets(lab);
    expect(Object.keys(subnets).sort()).toEqual(lab.nodes.map((n) => n.name).sort());
    expect(new Set(Object.values(subnets)).size).toBe(lab.nodes.length);
  });

  it('containerd answers ctr version on every node and the service is enabled', () => {
    for (const n of lab.nodes) {
      expect(lab.ssh(n.name, ctr('version'))).toMatch(/Server:\s*\n\s*Version:/);
      expect(lab.ssh(n.name, 'systemctl is-enabled containerd kubi-pod-routes').trim().split('\n')).toEqual(['enabled', 'enabled']);
    }
  });

  it("a container on each node gets an address in that node's pod subnet", () => {
    const subnets = savedSubnets(lab);
    for (const n of lab.nodes) {
      const out = lab.ssh(n.name, ctr(`run --cni --rm ${BUSYBOX} kubi-e2e-one ip -4 -o addr show eth0`));
      const ip = eth0Address(out);
      expect(inCidr(ip, subnets[n.name]!), `${n.name}: ${ip} in ${subnets[n.name]}`).toBe(true);
    }
  });

  it('containers on two different nodes reach each other (routes between pod subnets)', () => {
    const [a, b] = lab.nodes;
    lab.ssh(b!.name, ctr(`run --cni -d ${BUSYBOX} kubi-e2e-peer sleep 600`));
    const peerIp = eth0Address(lab.ssh(b!.name, ctr('tasks exec --exec-id addr kubi-e2e-peer ip -4 -o addr show eth0')));
    expect(inCidr(peerIp, savedSubnets(lab)[b!.name]!)).toBe(true);
    const out = lab.ssh(a!.name, ctr(`run --cni --rm ${BUSYBOX} kubi-e2e-ping ping -c 3 -W 2 ${peerIp}`));
    expect(out).toMatch(/3 packets transmitted, 3 packets received/);
  });

  it('the routes unit puts deleted routes back (what it does at boot)', () => {
    const n = lab.nodes[0]!;
    const before = lab.ssh(n.name, 'ip -4 route show proto 77').trim();
    expect(before.split('\n')).toHaveLength(lab.nodes.length - 1);
    lab.ssh(n.name, 'ip -4 route flush proto 77');
    expect(lab.ssh(n.name, 'ip -4 route show proto 77').trim()).toBe('');
    lab.ssh(n.name, 'systemctl restart kubi-pod-routes');
    expect(lab.ssh(n.name, 'ip -4 route show proto 77').trim()).toBe(before);
  });

  it('the installed units pass systemd-analyze verify on a node', () => {
    const r = lab.sshResult(lab.nodes[0]!.name, 'systemd-analyze verify --man=no /etc/systemd/system/containerd.service /etc/systemd/system/kubi-pod-routes.service 2>&1');
    expect(r.stdout.trim(), r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('a second run changes nothing', async () => {
    const r = await kubi(['up', lab.inventory, '--quiet', ...ONLY]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^up to date: /);
  });
});
