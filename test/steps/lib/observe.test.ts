/**
 * The observe script run by the REAL bash on this machine (no SSH) over real files, plus the pure
 * parser and its inverse (used by the fake host).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatObservation, observeScript, parseObservation, requestOfScript, type Observation, type ObserveRequest } from '../../../src/steps/lib/observe.js';

let dir: string;
const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const runBash = (script: string): string => {
  const r = spawnSync('bash', ['-s'], { input: script, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bash failed: ${r.stderr}`);
  return r.stdout;
};

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'kubi-observe-'));
  writeFileSync(path.join(dir, 'a.conf'), 'hello\nworld\n');
  chmodSync(path.join(dir, 'a.conf'), 0o640);
  writeFileSync(path.join(dir, "we ird $(x) 'q'.txt"), 'odd name');
  writeFileSync(path.join(dir, 'big.bin'), Buffer.alloc(5000, 7));
  writeFileSync(path.join(dir, 'empty'), '');
  mkdirSync(path.join(dir, 'sub'), { mode: 0o750 });
  chmodSync(path.join(dir, 'sub'), 0o750);
  symlinkSync(path.join(dir, 'a.conf'), path.join(dir, 'link'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('observe script (real bash)', () => {
  it('reports type, sha256, mode, owner, size and content in one script', () => {
    const p = (n: string) => path.join(dir, n);
    const req: ObserveRequest = {
      files: [p('a.conf'), p("we ird $(x) 'q'.txt"), p('big.bin'), p('empty'), p('sub'), p('missing'), p('link')],
      content: [p('a.conf'), p("we ird $(x) 'q'.txt"), p('big.bin'), p('empty'), p('link')],
      units: ['kubi-test-no-such-unit.service'],
      maxContentBytes: 4096,
    };
    const obs = parseObservation(runBash(observeScript(req)), req);
    const user = os.userInfo().username;
    expect(obs.files.get(p('a.conf'))).toMatchObject({ type: 'file', sha256: sha('hello\nworld\n'), mode: 0o640, owner: user, size: 12 });
    expect(obs.files.get(p('a.conf'))!.content!.toString()).toBe('hello\nworld\n');
    expect(obs.files.get(p("we ird $(x) 'q'.txt"))!.content!.toString()).toBe('odd name');
    expect(obs.files.get(p('big.bin'))).toMatchObject({ type: 'file', sha256: sha(Buffer.alloc(5000, 7)), size: 5000 });
    expect(obs.files.get(p('big.bin'))!.content).toBeUndefined(); // over maxContentBytes
    expect(obs.files.get(p('empty'))).toMatchObject({ type: 'file', sha256: sha(''), size: 0 });
    expect(obs.files.get(p('empty'))!.content!.length).toBe(0);
    expect(obs.files.get(p('sub'))).toMatchObject({ type: 'dir', mode: 0o750 });
    expect(obs.files.get(p('missing'))).toEqual({ path: p('missing'), type: 'missing' });
    expect(obs.files.get(p('link'))).toMatchObject({ type: 'file', sha256: sha('hello\nworld\n'), mode: 0o640 }); // followed
    const unit = obs.units.get('kubi-test-no-such-unit.service')!;
    expect(unit.enabled).toBe('not-found');
    expect(unit.active).not.toBe('active');
  });

  it('the fast path (one stat, one sha256sum, one cat) answers exactly like the per-path functions', () => {
    const p = (n: string) => path.join(dir, n);
    const req: ObserveRequest = {
      files: [p('a.conf'), p("we ird $(x) 'q'.txt"), p('big.bin'), p('empty'), p('sub'), p('missing'), p('link')],
      content: [p('a.conf'), p("we ird $(x) 'q'.txt"), p('empty'), p('link'), p('big.bin')],
      maxContentBytes: 4096,
    };
    const script = observeScript(req);
    const fastOut = runBash(script);
    expect(fastOut).toMatch(/^C 0,1,3,6 /m); // one line for all contents: the fast path ran
    expect(fastOut).not.toMatch(/^c /m);
    const slowScript = script.replace('if ! kfast; then', 'if ! false; then');
    expect(slowScript).not.toBe(script);
    const slowOut = runBash(slowScript);
    expect(slowOut).toMatch(/^c 0 /m); // the per-path functions ran
    expect(parseObservation(fastOut, req)).toEqual(parseObservation(slowOut, req));
  });

  it('a C line whose contents do not add up to the sizes is refused (a file changed while observed)', () => {
    const req: ObserveRequest = { files: ['/a', '/b'], content: true };
    const ok = 'kubi-observe 1\nf 0 file ' + sha('xy') + ' 644 root root 2\nf 1 file ' + sha('z') + ' 644 root root 1\nC 0,1 ' + Buffer.from('xyz').toString('base64') + '\nend\n';
    const obs = parseObservation(ok, req);
    expect(obs.files.get('/a')!.content!.toString()).toBe('xy');
    expect(obs.files.get('/b')!.content!.toString()).toBe('z');
    expect(() => parseObservation(ok.replace(Buffer.from('xyz').toString('base64'), Buffer.from('xyzw').toString('base64')), req, 'node1')).toThrow(/changed while it was observed/);
    expect(() => parseObservation(ok.replace(Buffer.from('xyz').toString('base64'), Buffer.from('xy').toString('base64')), req, 'node1')).toThrow(/changed while it was observed/);
  });

  it('does not bring content back unless asked', () => {
    const req: ObserveRequest = { files: [path.join(dir, 'a.conf')] };
    const out = runBash(observeScript(req));
    expect(out).not.toMatch(/^[cC] /m);
    expect(parseObservation(out, req).files.get(path.join(dir, 'a.conf'))!.content).toBeUndefined();
  });

  it('embeds its request for test doubles', () => {
    const req: ObserveRequest = { files: ['/etc/x'], content: true, units: ['u.service'] };
    expect(requestOfScript(observeScript(req))).toEqual({ files: ['/etc/x'], units: ['u.service'], content: ['/etc/x'], maxContentBytes: 256 * 1024 });
    expect(requestOfScript('echo hi')).toBeNull();
  });
});

describe('parseObservation', () => {
  const req: ObserveRequest = { files: ['/a', '/b'], units: ['x.service'] };
  it('refuses truncated or foreign output with a clear error', () => {
    expect(() => parseObservation('', req, 'node1')).toThrow(/missing header/);
    expect(() => parseObservation('kubi-observe 1\nf 0 missing\n', req, 'node1')).toThrow(/ends early/);
    expect(() => parseObservation('kubi-observe 1\nf 0 missing\nu 0 enabled active\nend\n', req, 'node1')).toThrow(/no answer for \/b/);
    expect(() => parseObservation('kubi-observe 1\nf 7 missing\nend\n', req)).toThrow(/unknown file index 7/);
    expect(() => parseObservation('kubi-observe 1\nf 0 unreadable\nf 1 missing\nu 0 a b\nend\n', req, 'node1')).toThrow(/cannot read \/a/);
  });

  it('formatObservation is the inverse of parseObservation (property)', () => {
    const word = fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/);
    const fileArb = fc.oneof(
      fc.record({ type: fc.constant('missing' as const) }),
      fc.record({
        type: fc.constant('file' as const),
        content: fc.uint8Array({ maxLength: 64 }),
        mode: fc.integer({ min: 0, max: 0o7777 }),
        owner: word,
        group: word,
      }),
      fc.record({ type: fc.constant('dir' as const), mode: fc.integer({ min: 0, max: 0o7777 }), owner: word, group: word }),
    );
    fc.assert(
      fc.property(fc.array(fileArb, { maxLength: 6 }), fc.array(fc.tuple(word, word), { maxLength: 3 }), fc.boolean(), (files, units, withContent) => {
        const paths = files.map((_, i) => `/p/${i}`);
        const unitNames = units.map(([u], i) => `${u}${i}.service`);
        const obs: Observation = { files: new Map(), units: new Map() };
        files.forEach((f, i) => {
          const p = paths[i]!;
          if (f.type === 'missing') obs.files.set(p, { path: p, type: 'missing' });
          else if (f.type === 'dir') obs.files.set(p, { path: p, type: 'dir', mode: f.mode, owner: f.owner, group: f.group, size: 0 });
          else {
            const content = Buffer.from(f.content);
            obs.files.set(p, { path: p, type: 'file', sha256: sha(content), mode: f.mode, owner: f.owner, group: f.group, size: content.length, ...(withContent ? { content } : {}) });
          }
        });
        units.forEach(([, state], i) => obs.units.set(unitNames[i]!, { unit: unitNames[i]!, enabled: state, active: 'active' }));
        const r: ObserveRequest = { files: paths, units: unitNames, content: withContent };
        expect(parseObservation(formatObservation(obs, r), r)).toEqual(obs);
      }),
    );
  });
});
