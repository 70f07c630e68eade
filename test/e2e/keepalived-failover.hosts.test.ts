/**
 * keepalived as the tool configures it (`up --only host.packages,endpoint` on 3 lab servers): the API VIP is
 * held by exactly one server and answers (ssh to the VIP reaches that server); when that server's API health goes away, the VIP moves
 * to another server. The time the move takes is measured and printed (no assertion on it).
 *
 * TEST DOUBLE (named as such): k3s cannot run here (no k3s binary in the lab), so the API server
 * that keepalived's check watches is absent. As a stand-in, each server runs a tiny HTTPS listener
 * on 127.0.0.1:6443 (socat with a throw-away self-signed certificate) that answers every request
 * like k3s answers an anonymous /readyz: 401. The check script accepts exactly that while k3s's
 * admin client certificate does not exist. The stand-ins are started over SSH, stopped by PID.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { sshArgv } from '../../src/lab/ssh.js';
import { kubi, labUp, type TestLab } from '../steps/k3s/lab.js';

let lab: TestLab;
/** the endpoint steps, and host.packages for socat (the stand-in below) */
const ONLY = ['--only', 'host.packages', '--only', 'endpoint'];
/** node -> { pid, dir } of its stand-in */
const standIns = new Map<string, { pid: number; dir: string }>();

const STAND_IN = String.raw`set -e
command -v socat >/dev/null || { echo "no socat (host.packages installs it)" >&2; exit 1; }
d=$(mktemp -d /tmp/kubi-apiserver-standin.XXXXXX)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=apiserver-standin -days 1 -keyout "$d/key.pem" -out "$d/cert.pem" 2>/dev/null
cat "$d/key.pem" "$d/cert.pem" > "$d/server.pem"
cat > "$d/respond.sh" <<'R'
#!/bin/sh
# read the request up to its blank line first: closing with unread data would reset the TLS connection
while IFS= read -r line; do line=$(printf %s "$line" | tr -d '\r'); [ -z "$line" ] && break; done
printf 'HTTP/1.0 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
R
chmod 0755 "$d/respond.sh"
nohup socat "OPENSSL-LISTEN:6443,bind=127.0.0.1,reuseaddr,fork,cert=$d/server.pem,verify=0" "EXEC:$d/respond.sh" >/dev/null 2>&1 </dev/null &
pid=$!
# until it listens
ok=0
for i in $(seq 1 50); do if [ "$(curl -sk --max-time 2 -o /dev/null -w '%{http_code}' https://127.0.0.1:6443/readyz)" = 401 ]; then ok=1; break; fi; sleep 0.2; done
[ "$ok" = 1 ] || { echo "the stand-in does not answer on 127.0.0.1:6443" >&2; kill "$pid"; exit 1; }
echo "pid=$pid dir=$d"
`;

function startStandIn(node: string): void {
  const out = lab.ssh(node, 'bash -s', STAND_IN);
  const m = /pid=(\d+) dir=(\S+)/.exec(out);
  if (!m) throw new Error(`stand-in did not start on ${node}: ${out}`);
  standIns.set(node, { pid: Number(m[1]), dir: m[2]! });
}

function stopStandIn(node: string): void {
  const s = standIns.get(node);
  if (!s) return;
  lab.sshResult(node, `kill ${s.pid} 2>/dev/null; rm -rf '${s.dir}'`);
  standIns.delete(node);
}

/** Servers that have the VIP on an interface right now. */
function holders(): string[] {
  return lab.nodes.filter((n) => lab.sshResult(n.name, `ip -4 -o addr show | grep -qF ' ${lab.vip}/' && echo yes || echo no`).stdout.trim() === 'yes').map((n) => n.name);
}

/** Who answers on the VIP from this machine (through the lab's veth): ssh to the VIP and ask for the host name. */
function vipAnswersAs(): string | null {
  const argv = sshArgv(lab.keyPath, 'root', lab.vip, ['hostname']);
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : null;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | null | Promise<T | null>): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  lab = await labUp({ name: 'kubih9k', subnet: '10.192.0.0/24', nodes: 3 });
  const r = await kubi(['up', lab.inventory, '--quiet', ...ONLY]);
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
}, 900_000);

afterAll(async () => {
  if (!lab) return;
  for (const node of [...standIns.keys()]) stopStandIn(node);
  const r = await lab.down();
  expect(r.status, r.stderr).toBe(0);
});

describe('keepalived VIP failover on lab servers', () => {
  it('without a healthy API server nobody holds the VIP', async () => {
    // keepalived runs on every server, its check fails everywhere (nothing on 127.0.0.1:6443)
    for (const n of lab.nodes) expect(lab.ssh(n.name, 'systemctl is-active keepalived').trim()).toBe('active');
    await new Promise((r) => setTimeout(r, 4000));
    expect(holders()).toEqual([]);
  });

  it('with the stand-in API on every server, exactly one server holds the VIP and it answers', async () => {
    for (const n of lab.nodes) startStandIn(n.name);
    for (const n of lab.nodes) expect(lab.ssh(n.name, '/etc/keepalived/check-apiserver.sh && echo healthy').trim()).toBe('healthy');
    const holder = await waitFor('one VIP holder', 60_000, () => {
      const h = holders();
      return h.length === 1 ? h[0]! : null;
    });
    // the highest priority (first server) wins once all are healthy
    await waitFor('the first server to hold the VIP', 60_000, () => (holders().join() === lab.nodes[0]!.name ? true : null));
    expect(holder).toBeTruthy();
    expect(vipAnswersAs()).toBe(lab.nodes[0]!.name);
  });

  it('when the holder loses its API, the VIP moves to another server (time measured)', async () => {
    const before = holders();
    expect(before).toHaveLength(1);
    const old = before[0]!;
    const start = Date.now();
    stopStandIn(old);
    const next = await waitFor('the VIP to move', 120_000, () => {
      const h = holders();
      return h.length === 1 && h[0] !== old ? h[0]! : null;
    });
    const movedMs = Date.now() - start;
    const answeredBy = await waitFor('the VIP to answer from the new holder', 30_000, () => (vipAnswersAs() === next ? next : null));
    const answeringMs = Date.now() - start;
    console.log(`keepalived failover: VIP ${lab.vip} moved from ${old} to ${next} ${(movedMs / 1000).toFixed(1)} s after its API stand-in stopped (answering ssh as ${answeredBy} after ${(answeringMs / 1000).toFixed(1)} s)`);
    expect(next).not.toBe(old);
    expect(holders()).toEqual([next]);
  });

  it('a second run changes nothing', async () => {
    const r = await kubi(['up', lab.inventory, '--quiet', ...ONLY]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^up to date: /);
  });
});
