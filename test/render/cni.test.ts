import { describe, expect, it } from 'vitest';
import {
  CNI_PATHS,
  buildBridgeCniContext,
  buildPodRoutesContext,
  cniFiles,
  kubeNodes,
  renderBridgeConflist,
  renderLoopbackConf,
  renderPodRoutesScript,
  renderPodRoutesUnit,
} from '../../src/render/index.js';
import { allocatePodSubnets } from '../../src/network/pod-subnets.js';
import { KubiError } from '../../src/errors.js';
import { host, sampleInventory } from './helpers/sample.js';
import { parseUnit, values } from './helpers/unit-file.js';

const inv = sampleInventory();
const subnets = allocatePodSubnets(kubeNodes(inv).map((h) => h.name), inv.network.podCidr, inv.network.nodeCidrMaskSize);

describe('bridge conflist', () => {
  it('is CNI 1.0.0 JSON: bridge cni0 with gateway, masquerade and hairpin, host-local with the node subnet and a default route, portmap', () => {
    const conf = JSON.parse(renderBridgeConflist(buildBridgeCniContext(inv, host(inv, 'node3'), subnets)));
    expect(conf.cniVersion).toBe('1.0.0');
    expect(conf.name).toBe('kubi-bridge');
    expect(conf.plugins).toEqual([
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: '10.42.2.0/24' }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ]);
  });

  it('has a loopback config of its own', () => {
    expect(JSON.parse(renderLoopbackConf())).toMatchObject({ cniVersion: '1.0.0', name: 'lo', type: 'loopback' });
  });

  it('refuses hosts without a subnet, non-nodes and flannel mode', () => {
    expect(() => buildBridgeCniContext(inv, host(inv, 'node1'), {})).toThrow(/has no pod subnet/);
    const withEtcdOnly = sampleInventory({ hosts: [...sampleInventory().hosts, { name: 'etcd9', address: '10.77.0.19', roles: ['etcd'] }] });
    expect(() => buildBridgeCniContext(withEtcdOnly, host(withEtcdOnly, 'etcd9'), subnets)).toThrow(KubiError);
    const flannel = sampleInventory({ network: { cni: 'flannel' } });
    expect(() => buildBridgeCniContext(flannel, host(flannel, 'node1'), subnets)).toThrow(/only used with network.cni: bridge/);
    expect(cniFiles(flannel, host(flannel, 'node1'), subnets)).toEqual([]);
  });
});

describe('pod routes', () => {
  it('routes every other node\'s subnet via its address, in the script', () => {
    const ctx = buildPodRoutesContext(inv, host(inv, 'node4'), subnets);
    expect(ctx.routes.map((r) => `${r.dst} via ${r.via}`)).toEqual([
      '10.42.0.0/24 via 10.77.0.11',
      '10.42.1.0/24 via 10.77.0.12',
      '10.42.2.0/24 via 10.77.0.13',
      '10.42.4.0/24 via 10.77.0.15',
    ]);
    const script = renderPodRoutesScript(ctx);
    expect(script).toContain("ROUTES='10.42.0.0/24,10.77.0.11 10.42.1.0/24,10.77.0.12 10.42.2.0/24,10.77.0.13 10.42.4.0/24,10.77.0.15'");
    expect(script).toContain("WANTED=' 10.42.0.0/24 10.42.1.0/24 10.42.2.0/24 10.42.4.0/24 '");
    expect(script).toContain('PROTO=77');
  });

  it('runs the script from a oneshot unit that stays active', () => {
    const unit = parseUnit(renderPodRoutesUnit());
    expect(values(unit, 'Service', 'Type')).toEqual(['oneshot']);
    expect(values(unit, 'Service', 'RemainAfterExit')).toEqual(['yes']);
    expect(values(unit, 'Service', 'ExecStart')).toEqual([CNI_PATHS.routesScript]);
    expect(values(unit, 'Unit', 'After')).toEqual(['network-online.target']);
    expect(values(unit, 'Install', 'WantedBy')).toEqual(['multi-user.target']);
  });

  it('ships conflist, loopback, script (executable) and unit', () => {
    expect(cniFiles(inv, host(inv, 'node1'), subnets).map((f) => [f.path, f.mode])).toEqual([
      [CNI_PATHS.conflist, 0o644],
      [CNI_PATHS.loopback, 0o644],
      [CNI_PATHS.routesScript, 0o755],
      [CNI_PATHS.routesUnit, 0o644],
    ]);
  });
});
