import { mkdirSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runPlaybook } from '../../../src/engine/run.js';
import { parsePlaybook } from '../../../src/engine/playbook.js';
import { StepRegistry } from '../../../src/steps/registry.js';
import { generateToken, k3sToken, loadK3sToken, parseTokenFile, planToken, readToken, TOKEN_FILE } from '../../../src/steps/k3s/token.js';
import { redactor } from '../../../src/redact.js';
import { makeEnv, type StepEnv } from './env.js';

let env: StepEnv;
afterEach(() => env?.cleanup());

async function runToken(mode: 'plan' | 'apply') {
  const registry = new StepRegistry();
  registry.register(k3sToken);
  const playbook = parsePlaybook('name: t\nsteps:\n  - id: k3s.token\n    hosts: local\n', 't.yaml', registry);
  return runPlaybook({ playbook, cluster: env.cluster(mode), remotes: new Map() });
}

describe('k3s.token', () => {
  it('generates 64 hex characters of crypto randomness, different every time', () => {
    const a = generateToken();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(generateToken()).not.toBe(a);
  });

  it('plan mode only says it would generate one and writes nothing', async () => {
    env = makeEnv();
    const r = await runToken('plan');
    expect(r.ok).toBe(true);
    expect(r.steps[0]!.hosts[0]!.changes.map((c) => c.kind === 'action' && c.title)).toEqual(['generate the cluster join token into k3s-token (0600)']);
    expect(await readToken(env.stateDir)).toEqual({ token: null, mode: null });
  });

  it('apply writes it once, 0600, registers it with the redactor, and never replaces it', async () => {
    env = makeEnv();
    mkdirSync(env.stateDir, { recursive: true, mode: 0o700 });
    const r = await runToken('apply');
    expect(r.ok, JSON.stringify(r.failure?.error.message)).toBe(true);
    const file = path.join(env.stateDir, TOKEN_FILE);
    const token = readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(redactor.redact(`join with ${token}`)).toBe('join with <redacted:k3s-token>');
    // a second run: up to date, same token
    const again = await runToken('apply');
    expect(again.steps[0]!.hosts[0]!.status).toBe('up-to-date');
    expect(readFileSync(file, 'utf8').trim()).toBe(token);
    expect(await loadK3sToken(env.cluster())).toBe(token);
  });

  it('a token file with the wrong mode gets 0600, the token kept', async () => {
    env = makeEnv();
    mkdirSync(env.stateDir, { recursive: true, mode: 0o700 });
    const file = path.join(env.stateDir, TOKEN_FILE);
    writeFileSync(file, 'abcdef0123456789abcdef\n');
    chmodSync(file, 0o644);
    expect(planToken(await readToken(env.stateDir))).toEqual([{ kind: 'action', title: 'set the mode of k3s-token to 0600' }]);
    const r = await runToken('apply');
    expect(r.ok).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe('abcdef0123456789abcdef\n');
  });

  it('refuses an empty or multi-word token file with a hint', () => {
    expect(() => parseTokenFile('\n', '/s/k3s-token')).toThrow(/empty or has more than one word/);
    expect(() => parseTokenFile('a b\n', '/s/k3s-token')).toThrow(/k3s-token/);
    expect(parseTokenFile('  K10abc::server:def \n', '/s')).toBe('K10abc::server:def');
  });
});
