import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyPatch } from 'diff';
import { describe, expect, it } from 'vitest';
import { runPlaybook, type RunResult } from '../../src/engine/run.js';
import { renderJson, renderRunbook, renderText, totals } from '../../src/engine/report.js';
import { Redactor } from '../../src/redact.js';
import type { Step } from '../../src/engine/types.js';
import { cluster, desiredStep, fakeHosts, playbookOf, registryWith, threeNodes } from './helpers.js';

const SECRET = 'SUPER-SECRET-KEY-MATERIAL-42';
const OLD_SECRET = 'OLD-SECRET-KEY-MATERIAL-41';
const TOKEN = 'K10token-abcdef0123456789';

async function planWith(root: string, prepare?: (hosts: ReturnType<typeof fakeHosts>) => void): Promise<{ result: RunResult; inv: ReturnType<typeof threeNodes> }> {
  const conf = (h: string) => `# managed\nname = "${h}"\nport = 2379\nextra = true\n`;
  const files = desiredStep('demo.files', 'Write demo files', (ctx) => ({
    dirs: [{ path: root, mode: 0o755 }],
    files: [
      { path: `${root}/demo.conf`, content: conf(ctx.host.name), mode: 0o644 },
      { path: `${root}/key.pem`, content: SECRET, mode: 0o600, secret: true },
      { path: `${root}/no-newline.txt`, content: 'last line without newline', mode: 0o600 },
      { path: `${root}/tricky.txt`, content: "KUBI_EOF\n```\n$(echo pwned) 'quotes' \\back\n", mode: 0o644 },
    ],
  }));
  const cmd: Step<null> = {
    id: 'demo.command',
    title: 'Join the cluster',
    check: async () => null,
    plan: () => [
      { kind: 'command', title: 'join with the token', argv: ['k3s', 'agent', '--token', TOKEN] },
      { kind: 'command', title: 'secret join', argv: ['k3s', 'agent', '--token-file', '/x'], secret: true },
      { kind: 'service', unit: 'k3s.service', action: 'restart', fingerprint: { path: `${root}/fp`, value: 'f00' } },
    ],
  };
  const inv = threeNodes();
  const hosts = fakeHosts(inv);
  prepare?.(hosts);
  const result = await runPlaybook({
    playbook: playbookOf(registryWith(files, cmd), 'name: up\nsteps:\n  - id: demo.files\n    names: [node1, node2]\n  - id: demo.command\n    names: [node1]\n'),
    cluster: cluster(inv, 'plan'),
    remotes: hosts,
  });
  return { result, inv };
}

function redactorWithToken(): Redactor {
  const r = new Redactor();
  r.add(TOKEN, 'token');
  return r;
}

describe('plan report', () => {
  it('text: unified diffs that apply, secrets masked, commands shown, tokens redacted, totals', async () => {
    const { result } = await planWith('/etc/demo', (hosts) => {
      const n2 = hosts.get('node2')!;
      n2.dirs.set('/etc/demo', { mode: 0o755, owner: 'root', group: 'root' });
      n2.writeFile('/etc/demo/demo.conf', '# managed\nname = "node2"\nport = 2380\nextra = true\n');
      n2.writeFile('/etc/demo/key.pem', OLD_SECRET, 0o600);
      n2.writeFile('/etc/demo/no-newline.txt', 'last line without newline', 0o600);
      n2.writeFile('/etc/demo/tricky.txt', "KUBI_EOF\n```\n$(echo pwned) 'quotes' \\back\n", 0o644);
    });
    const text = renderText(result, redactorWithToken());
    expect(text).toContain('demo.files: Write demo files\n  node1: would change (5 changes)');
    expect(text).toContain('  node2: would change (2 changes)');
    // node2's diff: exactly the port line changes
    expect(text).toContain(
      [
        '    ~ update file /etc/demo/demo.conf (0644)',
        '        --- a/etc/demo/demo.conf',
        '        +++ b/etc/demo/demo.conf',
        '        @@ -1,4 +1,4 @@',
        '         # managed',
        '         name = "node2"',
        '        -port = 2380',
        '        +port = 2379',
        '         extra = true',
      ].join('\n'),
    );
    expect(text).toContain(`    ~ update file /etc/demo/key.pem (0600) [secret]\n        <secret content, ${SECRET.length} bytes, sha256 changed>`);
    expect(text).toContain(`    + create file /etc/demo/key.pem (0600) [secret]\n        <secret content, ${SECRET.length} bytes, new file>`);
    expect(text).toContain('k3s agent --token <redacted:token>');
    expect(text).toContain('<secret command not shown>');
    expect(text).toContain('> restart service k3s.service (then record its inputs fingerprint)');
    expect(text).toMatch(/plan: would make 10 changes on 2 hosts, 0 up to date \(2 steps\)\nnothing was changed: run `up` to apply\n$/);
    for (const s of [SECRET, OLD_SECRET, TOKEN]) expect(text).not.toContain(s);
  });

  it('json: changes as data with a total count; diffs reproduce the new content; no secret anywhere', async () => {
    const { result } = await planWith('/etc/demo', (hosts) => {
      const n2 = hosts.get('node2')!;
      n2.dirs.set('/etc/demo', { mode: 0o755, owner: 'root', group: 'root' });
      n2.writeFile('/etc/demo/demo.conf', 'completely\ndifferent\n');
    });
    const json = renderJson(result, redactorWithToken());
    const raw = JSON.stringify(json);
    for (const s of [SECRET, TOKEN]) expect(raw).not.toContain(s);
    expect(json.totalChanges).toBe(totals(result).changes);
    expect(json.totalChanges).toBe(12);
    const steps = json.steps as { hosts: { host: string; changes: Record<string, unknown>[] }[] }[];
    const n2conf = steps[0]!.hosts[1]!.changes.find((c) => c.path === '/etc/demo/demo.conf')!;
    expect(n2conf).toMatchObject({ kind: 'file', action: 'update', mode: '0644' });
    expect(applyPatch('completely\ndifferent\n', n2conf.diff as string)).toBe('# managed\nname = "node2"\nport = 2379\nextra = true\n');
    const noNl = steps[0]!.hosts[0]!.changes.find((c) => c.path === '/etc/demo/no-newline.txt')!;
    expect(applyPatch('', noNl.diff as string)).toBe('last line without newline');
    const key = steps[0]!.hosts[0]!.changes.find((c) => c.path === '/etc/demo/key.pem')!;
    expect(key).toEqual({ kind: 'file', action: 'create', path: '/etc/demo/key.pem', mode: '0600', bytes: SECRET.length, secret: true });
    expect(steps[1]!.hosts[0]!.changes[0]).toEqual({ kind: 'command', title: 'join with the token', argv: ['k3s', 'agent', '--token', '<redacted:token>'], command: 'k3s agent --token <redacted:token>' });
  });

  it('says "no changes (up to date)" per host and step, and "up to date" in the summary', async () => {
    const inv = threeNodes();
    const step: Step<null> = { id: 'demo.noop', title: 'Do nothing', check: async () => null, plan: () => [] };
    const result = await runPlaybook({ playbook: playbookOf(registryWith(step), 'name: up\nsteps:\n  - id: demo.noop\n    hosts: all\n'), cluster: cluster(inv, 'plan'), remotes: fakeHosts(inv) });
    const text = renderText(result);
    expect(text).toBe(
      'demo.noop: Do nothing\n  node1: no changes (up to date)\n  node2: no changes (up to date)\n  node3: no changes (up to date)\n  worker1: no changes (up to date)\n\nup to date: 1 step, 4 host-steps, nothing to change\n',
    );
    expect(renderJson(result)).toMatchObject({ upToDate: true, totalChanges: 0 });
  });

  it('runbook: copy-pasteable blocks reproduce every file exactly; secrets masked', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'kubi-runbook-')) + '/etc';
    const { result, inv } = await planWith(root);
    const md = renderRunbook(result, { inventory: inv, inventoryPath: '/tmp/inv.yaml', stateDir: '/tmp/state', generatedAt: new Date(0) }, redactorWithToken());
    for (const s of [SECRET, TOKEN]) expect(md).not.toContain(s);
    expect(md).toContain('# Runbook: `up` for cluster `test`');
    expect(md).toContain('## 1. `demo.files`: Write demo files');
    expect(md).toContain(`<secret content, ${SECRET.length} bytes> is not shown here`);
    // run node1's file blocks of step 1 for real with bash
    const node1 = md.slice(md.indexOf('### node1'), md.indexOf('### node2'));
    const blocks = [...node1.matchAll(/^(`{3,})sh\n([\s\S]*?)\n\1$/gm)].map((m) => m[2]!);
    expect(blocks.length).toBe(5);
    // the secret key is copied by hand (the runbook says so); simulate that copy, then run every block
    mkdirSync(root, { recursive: true });
    writeFileSync(`${root}/key.pem`, 'copied by hand');
    const r = spawnSync('bash', ['-e'], { input: blocks.join('\n') + '\n', encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(`${root}/demo.conf`, 'utf8')).toBe('# managed\nname = "node1"\nport = 2379\nextra = true\n');
    expect(readFileSync(`${root}/no-newline.txt`, 'utf8')).toBe('last line without newline');
    expect(readFileSync(`${root}/tricky.txt`, 'utf8')).toBe("KUBI_EOF\n```\n$(echo pwned) 'quotes' \\back\n");
    expect(statSync(`${root}/no-newline.txt`).mode & 0o777).toBe(0o600);
    expect(statSync(root).mode & 0o777).toBe(0o755);
    expect(statSync(`${root}/key.pem`).mode & 0o777).toBe(0o600);
    // the command step: the redacted token, the secret command not shown, the service + fingerprint
    expect(md).toContain('```sh\nk3s agent --token <redacted:token>\n```');
    expect(md).toContain('<secret command not shown: it carries a secret>');
    expect(md).toMatch(/```sh\nsystemctl restart k3s\.service\nmkdir -p/);
  });

  it('a failed remote command shows its stderr tail and hint in the summary', async () => {
    const { RemoteCommandError } = await import('../../src/transport/errors.js');
    const inv = threeNodes();
    const step: Step<null> = {
      id: 'demo.fail',
      title: 'Fail',
      check: async () => {
        throw new RemoteCommandError({ host: 'node1', command: 'etcdctl member list', exitCode: 2, stderr: 'one\ntwo: connection refused\n', stdout: '' });
      },
      plan: () => [],
    };
    const result = await runPlaybook({ playbook: playbookOf(registryWith(step), 'name: up\nsteps:\n  - id: demo.fail\n    names: [node1]\n'), cluster: cluster(inv, 'apply'), remotes: fakeHosts(inv) });
    const text = renderText(result);
    expect(text).toContain('failed: node1: demo.fail: command failed on node1 (exit 2): etcdctl member list\n  stderr| one\n  stderr| two: connection refused\nhint: ');
    expect(text).toContain('  node1: FAILED: command failed on node1 (exit 2): etcdctl member list\n    stderr| one\n');
  });
});
