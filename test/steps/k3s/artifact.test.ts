import { afterEach, describe, expect, it } from 'vitest';
import { k3sArtifact, k3sBinary, planK3sArtifact } from '../../../src/steps/k3s/artifact.js';
import { artifactSource } from '../../../src/steps/artifacts/binaries.js';
import { KubiError } from '../../../src/errors.js';
import { makeEnv, type StepEnv } from './env.js';

let env: StepEnv;
afterEach(() => env?.cleanup());

const host = (name: string) => env.inv.hosts.find((h) => h.name === name)!;

describe('k3s.artifact (the preflight) and k3sBinary', () => {
  it('with the binary in the offline directory: nothing to do, the binary is ready (0755)', async () => {
    env = makeEnv({ k3s: true });
    const cluster = env.cluster('apply');
    const ctx = { cluster, report: () => undefined };
    expect(await k3sArtifact.plan(await k3sArtifact.check(ctx), ctx)).toEqual([]);
    const b = await k3sBinary({ cluster, host: host('node4'), facts: env.facts.get('node4')! });
    expect(b.state).toBe('ready');
    if (b.state === 'ready') {
      expect(b.file).toMatchObject({ path: '/usr/local/bin/k3s', mode: 0o755 });
      expect(b.file.content.toString()).toContain('k3s version v1.34.3+k3s1 amd64');
    }
  });

  it('missing, up: the preflight fails naming the artifact and where to put it', async () => {
    env = makeEnv({ k3s: false });
    const cluster = env.cluster('apply');
    const ctx = { cluster, report: () => undefined };
    const status = await k3sArtifact.check(ctx);
    expect(status).toEqual([{ arch: 'amd64', local: false }]);
    let err: unknown;
    try {
      await k3sArtifact.plan(status, ctx);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KubiError);
    const e = err as KubiError;
    expect(e.code).toBe('k3s-binary-missing');
    expect(e.exitCode).toBe(1);
    expect(e.message).toBe(`the k3s binary (k3s v1.34.3+k3s1 amd64) is missing: not in the offline directory ${env.offline}`);
    expect(e.hint).toContain(`${env.offline}/k3s/v1.34.3+k3s1/k3s`);
    expect(e.hint).toContain(`${env.offline}/k3s/v1.34.3+k3s1/sha256sum-amd64.txt`);
    expect(e.hint).toContain('lab up --k3s-binary PATH');
    // a host step asking for the binary in apply mode gets the same error
    await expect(k3sBinary({ cluster, host: host('node1'), facts: env.facts.get('node1')! })).rejects.toMatchObject({ code: 'k3s-binary-missing' });
  });

  it('missing, plan: a change that cannot apply, clearly labelled, for every architecture', async () => {
    env = makeEnv({ k3s: false });
    env.facts.set('node4', { ...env.facts.get('node4')!, arch: 'arm64' });
    const cluster = env.cluster('plan');
    const ctx = { cluster, report: () => undefined };
    const changes = await k3sArtifact.plan(await k3sArtifact.check(ctx), ctx);
    expect(changes.map((c) => c.kind === 'action' && c.title)).toEqual(['binary k3s v1.34.3+k3s1 amd64: missing artifact', 'binary k3s v1.34.3+k3s1 arm64: missing artifact']);
    expect(changes[1]).toMatchObject({ detail: expect.arrayContaining([expect.stringContaining(`${env.offline}/k3s/v1.34.3+k3s1/k3s-arm64`)]) });
    const b = await k3sBinary({ cluster, host: host('node4'), facts: env.facts.get('node4')! });
    expect(b).toMatchObject({ state: 'missing', title: 'binary k3s v1.34.3+k3s1 arm64: missing artifact' });
  });

  it('an upstream source plans a download (the cache is empty), nothing is fetched in plan', () => {
    env = makeEnv({ k3s: false, inventory: { artifacts: { source: 'upstream', cacheDir: '/nonexistent/cache' } } });
    const cluster = env.cluster('plan');
    const changes = planK3sArtifact([{ arch: 'amd64', local: false }], cluster, artifactSource(cluster));
    expect(changes).toEqual([
      {
        kind: 'action',
        title: 'download k3s (k3s v1.34.3+k3s1 amd64) into the cache and verify its sha256',
        detail: ['from https://github.com/k3s-io/k3s/releases/download/v1.34.3%2Bk3s1/k3s', 'cache: /nonexistent/cache'],
      },
    ]);
  });
});
