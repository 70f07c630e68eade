/** planEtcdCertificates: pure planning of the etcd certificates from the inventory. */
import { describe, expect, it } from 'vitest';
import { planEtcdCertificates, type LeafSpec } from '../../src/pki/index.js';
import { inventory } from './helpers.js';

describe('planEtcdCertificates', () => {
  const specs = planEtcdCertificates(inventory());
  const byId = new Map(specs.map((s) => [s.id, s]));

  it('plans a CA first, server+peer per etcd member, and two client certificates', () => {
    expect(specs.map((s) => s.id)).toEqual([
      'etcd-ca',
      'etcd-server-node1',
      'etcd-peer-node1',
      'etcd-server-node2',
      'etcd-peer-node2',
      'etcd-server-node3',
      'etcd-peer-node3',
      'etcd-client-k3s',
      'etcd-admin',
    ]);
    expect(specs[0]).toEqual({ kind: 'ca', id: 'etcd-ca', commonName: 'etcd-ca-lab', validityDays: 3650, keyAlgorithm: 'ecdsa-p256' });
  });

  it('server certificate: CN host, SANs host/localhost/address/127.0.0.1, server+client auth', () => {
    expect(byId.get('etcd-server-node2')).toEqual({
      kind: 'server',
      id: 'etcd-server-node2',
      issuer: 'etcd-ca',
      host: 'node2',
      commonName: 'node2',
      dnsNames: ['node2', 'localhost'],
      ipAddresses: ['10.77.0.12', '127.0.0.1'],
      extKeyUsages: ['serverAuth', 'clientAuth'],
      validityDays: 365,
      renewBeforeDays: 30,
      keyAlgorithm: 'ecdsa-p256',
    });
  });

  it('peer certificate: SANs host + address, server+client auth', () => {
    const peer = byId.get('etcd-peer-node3') as LeafSpec;
    expect(peer.dnsNames).toEqual(['node3']);
    expect(peer.ipAddresses).toEqual(['10.77.0.13']);
    expect(peer.extKeyUsages).toEqual(['serverAuth', 'clientAuth']);
  });

  it('client certificates: clientAuth only, no SANs', () => {
    for (const id of ['etcd-client-k3s', 'etcd-admin']) {
      const spec = byId.get(id) as LeafSpec;
      expect(spec).toMatchObject({ kind: 'client', commonName: id, dnsNames: [], ipAddresses: [], extKeyUsages: ['clientAuth'] });
    }
  });

  it('options: validity, renew window, algorithm, extra server SANs split into DNS and IP', () => {
    const s = planEtcdCertificates(inventory(), {
      caValidityDays: 100,
      leafValidityDays: 10,
      renewBeforeDays: 2,
      keyAlgorithm: 'rsa-2048',
      extraServerSans: ['etcd.lab.internal', '10.77.0.100'],
    });
    expect(s[0]).toMatchObject({ validityDays: 100, keyAlgorithm: 'rsa-2048' });
    expect(s[1]).toMatchObject({
      validityDays: 10,
      renewBeforeDays: 2,
      dnsNames: ['node1', 'localhost', 'etcd.lab.internal'],
      ipAddresses: ['10.77.0.11', '127.0.0.1', '10.77.0.100'],
    });
    expect((s[2] as LeafSpec).ipAddresses).toEqual(['10.77.0.11']);
  });

  it('is deterministic and ignores hosts without the etcd role', () => {
    expect(planEtcdCertificates(inventory())).toEqual(specs);
    expect(specs.some((s) => s.id.includes('node4'))).toBe(false);
  });
});
