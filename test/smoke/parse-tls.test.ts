/**
 * TLS verdicts: the client-certificate probe on captured `openssl s_client` outputs against a real
 * etcd 3.4.23 member, and certificate expiry on certificates made with the real openssl CLI.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { judgeClientCertProbe, judgeExpiry, parsePemFiles, type ProbeRun } from '../../src/smoke/parse/tls.js';

const fx = (name: string): string => readFileSync(new URL(`./fixtures/etcdctl-3.4.23/${name}`, import.meta.url), 'utf8');
/** What the on-host script keeps of an s_client run: the exit code and the lines it greps. */
const run = (base: string, exitCode: number): ProbeRun => ({
  exitCode,
  output: `${fx(`${base}.out`)}\n${fx(`${base}.err`)}`
    .split('\n')
    .filter((l) => /Verify return code|alert|error|errno/.test(l))
    .join('\n'),
});

describe('judgeClientCertProbe', () => {
  it('refused: the control with the admin certificate works, the anonymous handshake gets a certificate alert', () => {
    expect(judgeClientCertProbe(run('ossl12-cert', 0), run('ossl12', 1))).toEqual({
      verdict: 'refused',
      detail: 'handshake refused without a client certificate (alert bad certificate)',
    });
  });

  it('accepted: an anonymous handshake that completes is a failure', () => {
    expect(judgeClientCertProbe(run('ossl12-cert', 0), run('ossl12-cert', 0)).verdict).toBe('accepted');
  });

  it('inconclusive when the member does not answer even with the certificate (stopped member)', () => {
    const v = judgeClientCertProbe(run('ossl12-down', 1), run('ossl12-down', 1));
    expect(v.verdict).toBe('inconclusive');
    expect(v.detail).toMatch(/does not complete a TLS handshake with the admin certificate either: connect:errno=111/);
  });

  it('inconclusive when the anonymous failure is not a certificate alert', () => {
    const v = judgeClientCertProbe(run('ossl12-cert', 0), { exitCode: 1, output: 'error:0A00042E:SSL routines::tlsv1 alert protocol version' });
    expect(v.verdict).toBe('inconclusive');
  });

  it('TLS 1.3 refusals are recognised too (certificate alert after the handshake)', () => {
    expect(judgeClientCertProbe(run('ossl12-cert', 0), run('ossl13', 1)).verdict).toBe('refused');
  });
});

describe('certificate expiry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kubi-smoke-certs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const make = (name: string, days: number): string => {
    const key = join(dir, `${name}.key`);
    const crt = join(dir, `${name}.crt`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', crt, '-subj', `/CN=${name}`, '-days', String(days)], { stdio: 'pipe' });
    return `@@file /etc/etcd/pki/${name}.crt\n${readFileSync(crt, 'utf8')}`;
  };
  const output = [make('ca', 3650), make('server', 365), make('admin', 10)].join('');
  const { certs, errors } = parsePemFiles(`${output}@@file /etc/etcd/pki/broken.crt\nnot a pem\n`);
  const now = Date.now();

  it('reads every file of the real listing script, also PEM files without a final newline', () => {
    const noNewline = join(dir, 'nonl');
    execFileSync('mkdir', ['-p', noNewline]);
    for (const n of ['a', 'b']) execFileSync('bash', ['-c', `printf '%s' "$(cat ${join(dir, 'ca.crt')})" > ${join(noNewline, `${n}.crt`)}`]);
    const out = execFileSync('bash', ['-c', `for f in ${noNewline}/*.crt; do [ -f "$f" ] || continue; printf '\\n@@file %s\\n' "$f"; cat "$f"; done`], { encoding: 'utf8' });
    expect(parsePemFiles(out).certs.map((c) => c.path)).toEqual([join(noNewline, 'a.crt'), join(noNewline, 'b.crt')]);
  });

  it('parses every certificate file and reports unreadable ones', () => {
    expect(certs.map((c) => [c.path, c.subject])).toEqual([
      ['/etc/etcd/pki/ca.crt', 'CN=ca'],
      ['/etc/etcd/pki/server.crt', 'CN=server'],
      ['/etc/etcd/pki/admin.crt', 'CN=admin'],
    ]);
    expect(errors).toEqual(['/etc/etcd/pki/broken.crt: no certificate found']);
  });

  it('warns about a certificate inside the window, soonest first', () => {
    const v = judgeExpiry(certs, now, 30);
    expect(v.status).toBe('warning');
    expect(v.message).toMatch(/^expiring within 30 days: admin\.crt in (9|10) days$/);
    expect(v.lines[0]).toMatch(/^\/etc\/etcd\/pki\/admin\.crt: CN=admin, expires \d{4}-\d\d-\d\d \((9|10) days\)$/);
  });

  it('passes when all are far away and fails when one has expired', () => {
    expect(judgeExpiry(certs.filter((c) => c.subject !== 'CN=admin'), now, 30)).toMatchObject({ status: 'passed', message: expect.stringMatching(/^2 certificates; the first to expire is server\.crt in 36[45] days$/) });
    const later = now + 400 * 86_400_000;
    expect(judgeExpiry(certs, later, 30)).toMatchObject({ status: 'failed', message: expect.stringMatching(/^expired: admin\.crt \(.+\), server\.crt \(.+\)$/) });
    expect(judgeExpiry([], now, 30).status).toBe('failed');
  });
});
