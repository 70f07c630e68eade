import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ETCD_PATHS,
  buildEtcdContext,
  etcdClusterToken,
  etcdFiles,
  renderEtcdEnv,
  renderEtcdctlProfile,
} from '../../src/render/index.js';
import { KubiError } from '../../src/errors.js';
import { host, sampleInventory } from './helpers/sample.js';
import { parseEnvFile } from './helpers/env-file.js';
import { etcdFlags } from './helpers/shared-data.js';
import { fetchEtcd34, type Etcd34 } from './helpers/etcd34.js';

const inv = sampleInventory({ etcd: { heartbeatIntervalMs: 500, electionTimeoutMs: 5000 } });

function envOf(name: string, state: 'new' | 'existing' = 'new', arch?: 'amd64' | 'arm64' | 'armhf'): Map<string, string> {
  return new Map(parseEnvFile(renderEtcdEnv(buildEtcdContext(inv, host(inv, name), { initialClusterState: state, ...(arch ? { arch } : {}) }))));
}

describe('etcd environment file', () => {
  it('names the member, its URLs, the whole initial cluster and the TLS files', () => {
    const env = envOf('node1');
    expect(env.get('ETCD_NAME')).toBe('node1');
    expect(env.get('ETCD_DATA_DIR')).toBe('/var/lib/etcd');
    expect(env.get('ETCD_LISTEN_PEER_URLS')).toBe('https://10.77.0.11:2380');
    expect(env.get('ETCD_INITIAL_ADVERTISE_PEER_URLS')).toBe('https://10.77.0.11:2380');
    expect(env.get('ETCD_LISTEN_CLIENT_URLS')).toBe('https://10.77.0.11:2379,https://127.0.0.1:2379');
    expect(env.get('ETCD_ADVERTISE_CLIENT_URLS')).toBe('https://10.77.0.11:2379');
    expect(env.get('ETCD_INITIAL_CLUSTER')).toBe('node1=https://10.77.0.11:2380,node2=https://10.77.0.12:2380,node3=https://10.77.0.13:2380');
    expect(env.get('ETCD_INITIAL_CLUSTER_STATE')).toBe('new');
    expect(env.get('ETCD_INITIAL_CLUSTER_TOKEN')).toBe('kubi-homelab-etcd');
    expect(env.get('ETCD_CLIENT_CERT_AUTH')).toBe('true');
    expect(env.get('ETCD_PEER_CLIENT_CERT_AUTH')).toBe('true');
    expect(env.get('ETCD_CERT_FILE')).toBe('/etc/etcd/pki/server.crt');
    expect(env.get('ETCD_KEY_FILE')).toBe('/etc/etcd/pki/server.key');
    expect(env.get('ETCD_TRUSTED_CA_FILE')).toBe('/etc/etcd/pki/ca.crt');
    expect(env.get('ETCD_PEER_CERT_FILE')).toBe('/etc/etcd/pki/peer.crt');
    expect(env.get('ETCD_PEER_KEY_FILE')).toBe('/etc/etcd/pki/peer.key');
    expect(env.get('ETCD_PEER_TRUSTED_CA_FILE')).toBe('/etc/etcd/pki/ca.crt');
    expect(env.get('ETCD_HEARTBEAT_INTERVAL')).toBe('500');
    expect(env.get('ETCD_ELECTION_TIMEOUT')).toBe('5000');
    expect(env.has('ETCD_UNSUPPORTED_ARCH')).toBe(false);
  });

  it('takes the initial cluster state as an input', () => {
    expect(envOf('node3', 'existing').get('ETCD_INITIAL_CLUSTER_STATE')).toBe('existing');
  });

  it('sets ETCD_UNSUPPORTED_ARCH=arm on armhf (from the inventory, or from facts which win)', () => {
    expect(envOf('node2').get('ETCD_UNSUPPORTED_ARCH')).toBe('arm'); // inventory says armhf
    expect(envOf('node2', 'new', 'arm64').has('ETCD_UNSUPPORTED_ARCH')).toBe(false);
    expect(envOf('node1', 'new', 'armhf').get('ETCD_UNSUPPORTED_ARCH')).toBe('arm');
  });

  it('derives one cluster token from the cluster name, the same on every member', () => {
    expect(new Set(['node1', 'node2', 'node3'].map((n) => envOf(n).get('ETCD_INITIAL_CLUSTER_TOKEN')))).toEqual(new Set(['kubi-homelab-etcd']));
    expect(etcdClusterToken(sampleInventory({ cluster: { name: 'other' } }))).toBe('kubi-other-etcd');
  });

  it('refuses hosts without the etcd role', () => {
    expect(() => buildEtcdContext(inv, host(inv, 'node4'), { initialClusterState: 'new' })).toThrow(KubiError);
  });

  it('ships the unit, the environment and the etcdctl profile', () => {
    expect(etcdFiles(inv, host(inv, 'node1'), { initialClusterState: 'new' }).map((f) => [f.path, f.mode])).toEqual([
      [ETCD_PATHS.unit, 0o644],
      [ETCD_PATHS.env, 0o644],
      [ETCD_PATHS.etcdctlProfile, 0o644],
    ]);
  });
});

describe('etcdctl profile', () => {
  it('exports the admin client settings when sourced by a real shell', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-etcdctl-'));
    try {
      const file = path.join(dir, 'etcdctl.sh');
      writeFileSync(file, renderEtcdctlProfile());
      const out = execFileSync('/bin/sh', ['-c', `. "$1" && env`, 'sh', file], { encoding: 'utf8', env: {} });
      const env = new Map(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]));
      expect(env.get('ETCDCTL_API')).toBe('3');
      expect(env.get('ETCDCTL_CACERT')).toBe('/etc/etcd/pki/ca.crt');
      expect(env.get('ETCDCTL_CERT')).toBe('/etc/etcd/pki/admin.crt');
      expect(env.get('ETCDCTL_KEY')).toBe('/etc/etcd/pki/admin.key');
      expect(env.get('ETCDCTL_ENDPOINTS')).toBe('https://127.0.0.1:2379');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('etcd contract: every rendered ETCD_* variable is a flag of etcd 3.5 and of Debian\'s etcd 3.4', () => {
  /** not a flag: etcd reads it directly before parsing flags (server/etcdmain/etcd.go checkSupportArch) */
  const NOT_FLAGS = new Set(['ETCD_UNSUPPORTED_ARCH']);
  let etcd34: Etcd34;

  beforeAll(() => {
    etcd34 = fetchEtcd34();
  }, 180_000);
  afterAll(() => etcd34?.cleanup());

  const allKeys = (): string[] => {
    const keys = new Set<string>();
    for (const name of ['node1', 'node2', 'node3']) for (const arch of ['amd64', 'armhf'] as const) for (const k of envOf(name, 'new', arch).keys()) keys.add(k);
    return [...keys];
  };

  it('is really Debian\'s 3.4 whose help lists the flags (control)', () => {
    expect(etcd34.version).toMatch(/^3\.4\./);
    expect(etcd34.flags.has('initial-cluster')).toBe(true);
    // a flag of the 3.5 table that 3.4 lacks must be missing, or the comparison would prove nothing
    expect(etcdFlags().flags.some((f) => f.name === 'experimental-enable-distributed-tracing')).toBe(true);
    expect(etcd34.flags.has('experimental-enable-distributed-tracing')).toBe(false);
  });

  it('matches the etcd 3.5 flag table (../shared/data/etcd-flags.json), none deprecated or ignored', () => {
    const table = etcdFlags();
    const byEnv = new Map(table.flags.map((f) => [f.env, f]));
    const keys = allKeys();
    expect(keys).toContain('ETCD_UNSUPPORTED_ARCH');
    for (const key of keys) {
      if (NOT_FLAGS.has(key)) continue;
      const flag = byEnv.get(key);
      expect(flag, `${key} is not an etcd 3.5 flag`).toBeDefined();
      expect(flag!.deprecated, `${key} is deprecated`).toBe(false);
      expect(table.ignored_flags, key).not.toContain(flag!.name);
    }
  });

  it('matches the flags the real etcd 3.4 binary lists', () => {
    for (const key of allKeys()) {
      if (NOT_FLAGS.has(key)) continue;
      const flag = key.slice('ETCD_'.length).toLowerCase().replace(/_/g, '-');
      expect(etcd34.flags.has(flag), `${key} (--${flag}) is unknown to etcd ${etcd34.version}`).toBe(true);
    }
  });
});
