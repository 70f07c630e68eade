// The issue-3 engine benchmark, one run per process (as a user runs `up`):
//   node bench/engine-playbook.mjs <inventory> <work dir> <stats.json>
// A playbook of 12 steps through the real engine and the real `up` wiring (runCommand +
// realDeps: inventory, one SSH connection per host, facts): 8 file steps (a rendered config
// file each) and 4 service steps (a systemd unit + its environment file, enabled and started,
// restarted when they change). Everything lives under /etc/kubi-bench and kubi-bench-N.service;
// bench/run.mjs removes it between fresh runs. Prints the run summary; writes --stats-json.
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const [inventory, work, statsFile] = process.argv.slice(2);
if (!inventory || !work || !statsFile) {
  process.stderr.write('usage: node bench/engine-playbook.mjs <inventory> <work dir> <stats.json>\n');
  process.exit(2);
}
const dist = new URL('./.build/dist/', import.meta.url).href;
const { runCommand, realDeps } = await import(`${dist}cli/commands/run.js`);
const { defaultRegistry } = await import(`${dist}steps/registry.js`);
const { observeDesired, planDesired } = await import(`${dist}steps/lib/desired.js`);
const { createOutput } = await import(`${dist}cli/output.js`);

export const FILE_STEPS = 8;
export const SERVICE_STEPS = 4;
const ROOT = '/etc/kubi-bench';

function fileDesired(n, host) {
  const lines = [`# managed by kubi-provision (engine benchmark) - file ${n}`, `host = "${host.name}"`, `address = "${host.address}"`];
  for (let i = 0; i < 40; i++) lines.push(`option_${n}_${i} = "${(n * 7919 + i * 104729).toString(36)}"`);
  return {
    dirs: [{ path: ROOT, mode: 0o755, owner: 'root', group: 'root' }],
    files: [{ path: `${ROOT}/file-${String(n).padStart(2, '0')}.conf`, content: lines.join('\n') + '\n', mode: n % 3 === 0 ? 0o600 : 0o644, owner: 'root', group: 'root' }],
  };
}

function serviceDesired(n, host) {
  const unit = `kubi-bench-${n}.service`;
  const env = { path: `${ROOT}/service-${n}.env`, content: `BENCH_HOST=${host.name}\nBENCH_SERVICE=${n}\n`, mode: 0o644, owner: 'root', group: 'root' };
  const unitFile = {
    path: `/etc/systemd/system/${unit}`,
    content: [
      '# managed by kubi-provision (engine benchmark)',
      '[Unit]',
      `Description=kubi-provision engine benchmark service ${n}`,
      '',
      '[Service]',
      `EnvironmentFile=${env.path}`,
      'ExecStart=/bin/sleep infinity',
      '',
      '[Install]',
      'WantedBy=multi-user.target',
      '',
    ].join('\n'),
    mode: 0o644,
    owner: 'root',
    group: 'root',
  };
  return {
    dirs: [{ path: ROOT, mode: 0o755, owner: 'root', group: 'root' }],
    files: [env, unitFile],
    services: [{ unit, inputs: { files: [env, unitFile] } }],
  };
}

const steps = [];
for (let n = 1; n <= FILE_STEPS; n++) {
  steps.push({
    id: `bench.file-${String(n).padStart(2, '0')}`,
    title: `Write benchmark file ${n}`,
    check: (ctx) => observeDesired(ctx.remote, fileDesired(n, ctx.host)),
    plan: (obs, ctx) => planDesired(fileDesired(n, ctx.host), obs),
  });
}
for (let n = 1; n <= SERVICE_STEPS; n++) {
  steps.push({
    id: `bench.service-${n}`,
    title: `Run benchmark service ${n}`,
    check: (ctx) => observeDesired(ctx.remote, serviceDesired(n, ctx.host)),
    plan: (obs, ctx) => planDesired(serviceDesired(n, ctx.host), obs),
  });
}
defaultRegistry.register(...steps);
const playbook = path.join(work, 'engine-bench.yaml');
writeFileSync(playbook, `name: engine-bench\ndescription: engine benchmark (${steps.length} steps)\nsteps:\n${steps.map((s) => `  - id: ${s.id}\n    hosts: all\n`).join('')}`);

const cli = { output: createOutput({ noColor: true }), debug: false };
const code = await runCommand('up', inventory, { playbook, quiet: true, statsJson: statsFile }, cli, await realDeps());
process.exitCode = code;
