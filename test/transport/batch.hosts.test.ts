/**
 * SshHost.batched() against a real OpenSSH server (test/harness/sshd.ts), as root and as a sudo
 * user: calls made together travel in one round trip, each still answers (and fails) on its own
 * and is logged as its own command; stdin and secret commands go through unbatched.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redactor } from '../../src/redact.js';
import { RemoteCommandError } from '../../src/transport/errors.js';
import { SshHost, type TransportOptions } from '../../src/transport/ssh.js';
import type { SshTarget } from '../../src/transport/targets.js';
import type { CommandLogSink } from '../../src/transport/types.js';
import { NOPASSWD_USER, SshdLab, type SshdServer } from '../harness/sshd.js';

let lab: SshdLab;
let server: SshdServer;
let stateDir: string;
let home: string;
let work: string;
const hosts: SshHost[] = [];
const logged: { command: string; label?: string; stdout: string; mutating: boolean }[] = [];
const events: string[] = [];
const log: CommandLogSink = {
  command: (e) => logged.push({ command: e.command, ...(e.label ? { label: e.label } : {}), stdout: e.stdout, mutating: e.mutating }),
  event: (_h, m) => events.push(m),
};

function opts(extra: Partial<TransportOptions> = {}): TransportOptions {
  return { stateDir, env: { HOME: home }, redactor: new Redactor(), log, ...extra };
}

async function connect(user: string): Promise<SshHost> {
  const t: SshTarget = { name: 'batchhost', address: server.address, port: server.port, user, privateKeyPath: lab.keys.plain };
  const h = await SshHost.connect(t, opts());
  hosts.push(h);
  return h;
}

beforeAll(async () => {
  lab = await SshdLab.create();
  await lab.createUsers();
  server = await lab.startSshd({ name: 'batchhost' });
  stateDir = path.join(lab.dir, 'state');
  home = path.join(lab.dir, 'home');
  work = path.join(lab.dir, 'work');
  await fs.mkdir(home);
  await fs.mkdir(work, { mode: 0o700 }); // root only: the sudo user reads it through sudo
  await fs.writeFile(path.join(work, 'a.conf'), 'alpha\n');
  await fs.writeFile(path.join(work, 'bin.dat'), Buffer.from([0, 1, 2, 255, 10, 13]));
});

afterAll(async () => {
  for (const h of hosts) h.close();
  await lab?.cleanup();
});

for (const user of ['root', NOPASSWD_USER]) {
  describe(`batched view as ${user}`, () => {
    it('exec, script and getFile made together cost one round trip, each with its own answer', async () => {
      const host = await connect(user);
      const view = host.batched();
      const before = host.stats().roundTrips;
      logged.length = 0;
      const [id, sh, file, bin, missing, failed] = await Promise.allSettled([
        view.exec(['id', '-u'], { mutating: false, label: 'who' }),
        view.script('echo "script sees $((6 * 7))"', { mutating: false }),
        view.getFile(path.join(work, 'a.conf')),
        view.getFile(path.join(work, 'bin.dat')),
        view.getFile(path.join(work, 'missing.conf')),
        view.exec(['sh', '-c', 'echo nope >&2; exit 4'], { mutating: false }),
      ]);
      expect(host.stats().roundTrips - before).toBe(1);
      // sudo user: commands run as root, like unbatched ones
      expect(id.status === 'fulfilled' && id.value.stdout.trim()).toBe('0');
      expect(sh.status === 'fulfilled' && sh.value.stdout).toBe('script sees 42\n');
      expect(file.status === 'fulfilled' && file.value?.toString()).toBe('alpha\n');
      expect(bin.status === 'fulfilled' && bin.value).toEqual(Buffer.from([0, 1, 2, 255, 10, 13]));
      expect(missing.status === 'fulfilled' && missing.value).toBeNull();
      expect(failed.status).toBe('rejected');
      const err = (failed as PromiseRejectedResult).reason as RemoteCommandError;
      expect(err).toBeInstanceOf(RemoteCommandError);
      expect(err.remoteExitCode).toBe(4);
      expect(err.stderrTail).toEqual(['nope']);
      // each command is in the log on its own; file contents never are
      expect(logged).toHaveLength(6);
      expect(logged.find((l) => l.label === 'who')?.command).toMatch(user === 'root' ? /^id -u$/ : /^sudo -n -- id -u$/);
      expect(logged.find((l) => l.label === `read ${path.join(work, 'bin.dat')}`)?.stdout).toBe('<6 bytes not logged>');
      expect(logged.every((l) => !l.mutating)).toBe(true);
      expect(events.some((e) => /^6 read-only commands in one round trip/.test(e))).toBe(true);
    });

    it('calls with stdin or a secret command line go through unbatched, alone', async () => {
      const host = await connect(user);
      const view = host.batched();
      const before = host.stats().roundTrips;
      const [a, b, c] = await Promise.all([
        view.exec(['cat'], { stdin: 'from stdin', mutating: false }),
        view.exec(['echo', 'classified'], { secret: true, mutating: false }),
        view.exec(['echo', 'plain'], { mutating: false }),
      ]);
      expect([a.stdout, b.stdout, c.stdout]).toEqual(['from stdin', 'classified\n', 'plain\n']);
      expect(host.stats().roundTrips - before).toBe(3);
    });
  });
}
