import { describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import {
  CONTAINERD_PATHS,
  DEFAULT_SANDBOX_IMAGE,
  buildContainerdContext,
  containerdFiles,
  parseContainerdVersion,
  renderContainerdConfig,
  renderContainerdUnit,
  renderCrictlConfig,
} from '../../src/render/index.js';
import { parse as parseYaml } from 'yaml';
import { KubiError } from '../../src/errors.js';
import { sampleInventory } from './helpers/sample.js';
import { parseUnit, values } from './helpers/unit-file.js';

type Toml = Record<string, any>;

function config(containerd: string, cni: 'bridge' | 'flannel' = 'bridge', sandboxImage?: string): Toml {
  const inv = sampleInventory({ versions: { containerd }, network: { cni } });
  return parse(renderContainerdConfig(buildContainerdContext(inv, sandboxImage ? { sandboxImage } : {}))) as Toml;
}

describe('containerd version', () => {
  it('reads major and minor from the forms inventories use', () => {
    expect(parseContainerdVersion('1.7.28')).toEqual({ major: 1, minor: 7 });
    expect(parseContainerdVersion('v2.1.4')).toEqual({ major: 2, minor: 1 });
    expect(parseContainerdVersion('1.6.20~ds1-1+b1')).toEqual({ major: 1, minor: 6 });
    expect(() => parseContainerdVersion('latest')).toThrow(KubiError);
    expect(() => parseContainerdVersion('1.5.9')).toThrow(/not supported/);
  });
});

describe('config.toml, version 2 layout (containerd 1.6 / 1.7)', () => {
  it('configures CRI: systemd cgroups, runc binary, overlayfs, sandbox image, CNI dirs', () => {
    const c = config('1.7.28');
    expect(c.version).toBe(2);
    const cri = c.plugins['io.containerd.grpc.v1.cri'];
    expect(cri.sandbox_image).toBe(DEFAULT_SANDBOX_IMAGE);
    expect(cri.containerd.snapshotter).toBe('overlayfs');
    expect(cri.containerd.default_runtime_name).toBe('runc');
    expect(cri.containerd.runtimes.runc.runtime_type).toBe('io.containerd.runc.v2');
    expect(cri.containerd.runtimes.runc.options).toEqual({ BinaryName: '/usr/local/sbin/runc', SystemdCgroup: true });
    expect(cri.cni).toEqual({ bin_dir: '/opt/cni/bin', conf_dir: '/etc/cni/net.d', max_conf_num: 1 });
    expect(Object.keys(c.plugins)).toEqual(['io.containerd.grpc.v1.cri']);
  });

  it('uses the same layout for Debian\'s 1.6 and takes the sandbox image as an input', () => {
    const c = config('1.6.20', 'bridge', 'registry.k8s.io/pause:3.9');
    expect(c.version).toBe(2);
    expect(c.plugins['io.containerd.grpc.v1.cri'].sandbox_image).toBe('registry.k8s.io/pause:3.9');
  });

  it('points CNI at k3s\'s flannel directories in flannel mode', () => {
    expect(config('1.7.28', 'flannel').plugins['io.containerd.grpc.v1.cri'].cni).toEqual({
      bin_dir: '/var/lib/rancher/k3s/data/cni',
      conf_dir: '/var/lib/rancher/k3s/agent/etc/cni/net.d',
      max_conf_num: 1,
    });
  });
});

describe('config.toml, version 3 layout (containerd 2.x)', () => {
  it('splits images and runtime plugins, bin_dirs as a list from 2.1', () => {
    const c = config('2.1.4');
    expect(c.version).toBe(3);
    const images = c.plugins['io.containerd.cri.v1.images'];
    const runtime = c.plugins['io.containerd.cri.v1.runtime'];
    expect(images.snapshotter).toBe('overlayfs');
    expect(images.pinned_images.sandbox).toBe(DEFAULT_SANDBOX_IMAGE);
    expect(runtime.containerd.default_runtime_name).toBe('runc');
    expect(runtime.containerd.runtimes.runc.runtime_type).toBe('io.containerd.runc.v2');
    expect(runtime.containerd.runtimes.runc.options).toEqual({ BinaryName: '/usr/local/sbin/runc', SystemdCgroup: true });
    expect(runtime.cni).toEqual({ bin_dirs: ['/opt/cni/bin'], conf_dir: '/etc/cni/net.d', max_conf_num: 1 });
    expect(c.plugins['io.containerd.grpc.v1.cri']).toBeUndefined();
  });

  it('writes bin_dir (a string) for 2.0, which has no bin_dirs', () => {
    expect(config('2.0.5', 'flannel').plugins['io.containerd.cri.v1.runtime'].cni).toEqual({
      bin_dir: '/var/lib/rancher/k3s/data/cni',
      conf_dir: '/var/lib/rancher/k3s/agent/etc/cni/net.d',
      max_conf_num: 1,
    });
  });
});

describe('containerd.service and crictl.yaml', () => {
  it('has the official unit\'s settings; LimitNOFILE and local-fs.target only for 1.x', () => {
    const inv17 = sampleInventory();
    const u17 = parseUnit(renderContainerdUnit(buildContainerdContext(inv17)));
    expect(values(u17, 'Service', 'ExecStart')).toEqual(['/usr/local/bin/containerd']);
    expect(values(u17, 'Service', 'ExecStartPre')).toEqual(['-/sbin/modprobe overlay']);
    for (const [k, v] of [
      ['Type', 'notify'],
      ['Delegate', 'yes'],
      ['KillMode', 'process'],
      ['Restart', 'always'],
      ['RestartSec', '5'],
      ['LimitNPROC', 'infinity'],
      ['LimitCORE', 'infinity'],
      ['TasksMax', 'infinity'],
      ['OOMScoreAdjust', '-999'],
      ['LimitNOFILE', 'infinity'],
    ] as const) {
      expect(values(u17, 'Service', k), k).toEqual([v]);
    }
    expect(values(u17, 'Unit', 'After')).toEqual(['network.target local-fs.target dbus.service']);
    expect(values(u17, 'Install', 'WantedBy')).toEqual(['multi-user.target']);

    const u2 = parseUnit(renderContainerdUnit(buildContainerdContext(sampleInventory({ versions: { containerd: '2.1.4' } }))));
    expect(values(u2, 'Service', 'LimitNOFILE')).toEqual([]);
    expect(values(u2, 'Unit', 'After')).toEqual(['network.target dbus.service']);
  });

  it('points crictl at the containerd socket', () => {
    const y = parseYaml(renderCrictlConfig(buildContainerdContext(sampleInventory())));
    expect(y).toEqual({ 'runtime-endpoint': 'unix:///run/containerd/containerd.sock', 'image-endpoint': 'unix:///run/containerd/containerd.sock', timeout: 10 });
  });

  it('ships config, unit and crictl.yaml', () => {
    expect(containerdFiles(sampleInventory()).map((f) => f.path)).toEqual([CONTAINERD_PATHS.config, CONTAINERD_PATHS.unit, CONTAINERD_PATHS.crictl]);
  });
});
