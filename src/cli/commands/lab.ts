/**
 * `kubi-provision lab ...`: a local lab of throw-away Linux nodes (LXC system containers by default,
 * QEMU VMs with --backend vm) on an isolated network namespace, with an inventory for them.
 *   lab up [--nodes N] [--backend container|vm]   lab down   lab status
 *   lab ssh <node> [-- cmd...]   lab rebuild <node> [--new-address]   lab demo
 * Thin: parses options, calls src/lab (loaded lazily), prints. Progress goes to stderr, results to stdout.
 */
import { spawn } from 'node:child_process';
import { Command, Option } from 'commander';
import type { CliContext } from '../output.js';

interface CommonOpts {
  name?: string;
  stateDir?: string;
}

interface UpOpts extends CommonOpts {
  nodes: string;
  backend: 'container' | 'vm';
  subnet?: string;
  inventory?: string;
  k3sBinary?: string;
  install: boolean;
  cacheDir?: string;
  vmMemory?: string;
  vmCpus?: string;
}

function common(cmd: Command): Command {
  return cmd
    .option('--name <name>', 'lab name, also its network namespace', 'kubilab')
    .option('--state-dir <dir>', 'lab state directory (default /var/lib/kubi-provision/lab/<name>)');
}

function upOptions(cmd: Command): Command {
  return common(cmd)
    .option('-n, --nodes <n>', 'number of nodes', '3')
    .addOption(new Option('-b, --backend <backend>', 'container (LXC, fast) or vm (QEMU, own kernel; slow without hardware virtualisation)').choices(['container', 'vm']).default('container'))
    .option('--subnet <cidr>', 'lab subnet (bridge .1, nodes .11 and up, VIP .100)', '10.77.0.0/24')
    .option('--inventory <path>', 'where to write the lab inventory', 'inventories/lab.yaml')
    .option('--k3s-binary <path>', 'a k3s binary to put into the offline artifacts (also: KUBI_K3S_BINARY)')
    .option('--no-install', 'do not install missing host packages: print the command instead')
    .option('--cache-dir <dir>', 'image and artifact cache (default ${XDG_CACHE_HOME:-~/.cache}/kubi-provision/lab)')
    .option('--vm-memory <MiB>', 'memory per VM', '1024')
    .option('--vm-cpus <n>', 'vCPUs per VM (default 2 for one VM, else 1)');
}

function toLabOptions(o: UpOpts) {
  const num = (v: string | undefined, what: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new Error(`${what} must be a whole number, got "${v}"`);
    return n;
  };
  return {
    namespace: o.name,
    ...(o.stateDir ? { stateDir: o.stateDir } : {}),
    nodes: num(o.nodes, '--nodes'),
    backend: o.backend,
    ...(o.subnet ? { subnet: o.subnet } : {}),
    ...(o.inventory ? { inventoryPath: o.inventory } : {}),
    ...(o.k3sBinary ? { k3sBinary: o.k3sBinary } : {}),
    ...(o.cacheDir ? { cacheDir: o.cacheDir } : {}),
    ...(o.vmMemory ? { vmMemoryMiB: num(o.vmMemory, '--vm-memory') } : {}),
    ...(o.vmCpus ? { vmCpus: num(o.vmCpus, '--vm-cpus') } : {}),
    install: o.install,
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export function register(program: Command, cli: CliContext): void {
  const { output } = cli;
  const say = (line: string) => output.errLine(output.errColor.dim(`lab: ${line}`));
  const lab = program.command('lab').description('a local lab of throw-away Linux nodes to try kubi-provision on (needs root)');

  upOptions(lab.command('up').description('create the lab network and nodes, and write inventories/lab.yaml')).action(async (o: UpOpts) => {
    const { labUp } = await import('../../lab/lab.js');
    const { UsageError } = await import('../../errors.js');
    let opts;
    try {
      opts = toLabOptions(o);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const r = await labUp(opts as Parameters<typeof labUp>[0], say);
    for (const n of r.state.nodes) output.line(`${n.name}  ${n.address}  ${n.backend}`);
    output.line(`inventory: ${r.inventoryPath}`);
    output.line(`ssh: kubi-provision lab ssh node1   (key ${r.state.keyPath})`);
    if (!r.reused) output.line(output.color.dim(`took ${seconds(r.timings.total ?? 0)} (${Object.entries(r.timings).filter(([k]) => k !== 'total').map(([k, v]) => `${k} ${seconds(v)}`).join(', ')})`));
  });

  common(lab.command('down').description('remove every node, interface, namespace and process of the lab (idempotent)')).action(async (o: CommonOpts) => {
    const { labDown } = await import('../../lab/lab.js');
    const r = await labDown({ namespace: o.name ?? 'kubilab', ...(o.stateDir ? { stateDir: o.stateDir } : {}) }, say);
    output.line(r.stopped.length || r.removed.length ? `lab ${o.name} removed` : `lab ${o.name} was not running`);
    if (r.foreign.length) output.line(`note: processes the lab did not start are in its namespace: ${r.foreign.join(', ')}`);
  });

  common(lab.command('status').description('show the lab nodes and whether they run and answer on ssh'))
    .option('--json', 'machine-readable output')
    .action(async (o: CommonOpts & { json?: boolean }) => {
      const { labStatus } = await import('../../lab/lab.js');
      const s = await labStatus({ namespace: o.name ?? 'kubilab', ...(o.stateDir ? { stateDir: o.stateDir } : {}) });
      if (o.json) {
        output.line(JSON.stringify(s, null, 2));
        return;
      }
      if (!s.exists) {
        output.line(`lab ${s.namespace} is not up${s.namespacePresent ? ` (but namespace ${s.namespace} exists: run \`kubi-provision lab down\`)` : ''}`);
        return;
      }
      const c = output.color;
      output.line(`lab ${c.bold(s.namespace)}: ${s.phase}, ${s.backend}, ${s.subnet}, namespace ${s.namespacePresent ? 'present' : c.red('missing')}`);
      if (s.repoServer) output.line(`package repository ${s.repoServer.url} ${s.repoServer.running ? c.green('running') : c.red('stopped')}`);
      for (const n of s.nodes) {
        output.line(`  ${n.name.padEnd(8)} ${n.address.padEnd(15)} ${n.running ? c.green('running') : c.red('stopped')}  ssh ${n.ssh ? c.green('open') : c.red('closed')}${n.generation ? `  (rebuilt ${n.generation}x)` : ''}`);
      }
      output.line(`inventory ${s.inventoryPath}`);
    });

  common(lab.command('ssh').description('open a shell on a lab node, or run a command: lab ssh node1 -- uname -a (one quoted word runs as a shell line)'))
    .argument('<node>', 'node name, e.g. node1')
    .argument('[command...]', 'command to run (after --)')
    .option('-u, --user <user>', 'login user (root or kubi)', 'root')
    .action(async (node: string, command: string[], o: CommonOpts & { user: string }) => {
      const { labSshArgv } = await import('../../lab/lab.js');
      const argv = labSshArgv(node, command, { namespace: o.name ?? 'kubilab', ...(o.stateDir ? { stateDir: o.stateDir } : {}), user: o.user, tty: command.length === 0 && process.stdin.isTTY === true });
      const code = await new Promise<number>((resolve) => {
        const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit' });
        child.on('close', (c) => resolve(c ?? 1));
        child.on('error', () => resolve(1));
      });
      process.exitCode = code;
    });

  common(lab.command('rebuild').description('wipe a node and give it a fresh OS (new host key and machine-id): the hardware change'))
    .argument('<node>', 'node name, e.g. node2')
    .option('--new-address', 'also give it a new address (inventories/lab.yaml is updated)')
    .action(async (node: string, o: CommonOpts & { newAddress?: boolean }) => {
      const { labRebuild } = await import('../../lab/lab.js');
      const r = await labRebuild(node, { namespace: o.name ?? 'kubilab', ...(o.stateDir ? { stateDir: o.stateDir } : {}), newAddress: !!o.newAddress }, say);
      output.line(`${r.node.name} rebuilt: ${r.newAddress}${r.newAddress !== r.oldAddress ? ` (was ${r.oldAddress}; ${r.inventoryPath} updated)` : ''}`);
      output.line(`its host key changed: run \`kubi-provision forget-host ${r.inventoryPath} ${r.node.name}\` before connecting with the tool`);
    });

  upOptions(lab.command('demo').description('lab up, then `up` and `verify` on the lab inventory, with a summary')).action(async (o: UpOpts) => {
    const { runDemo } = await import('../../lab/demo.js');
    const { UsageError } = await import('../../errors.js');
    let opts;
    try {
      opts = toLabOptions(o);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const phases = await runDemo(opts as Parameters<typeof runDemo>[0], say, (chunk) => output.err(chunk));
    const c = output.color;
    output.line('');
    output.line(c.bold('lab demo summary'));
    for (const p of phases) {
      const mark = p.status === 'passed' ? c.green(p.status) : p.status === 'failed' ? c.red(p.status) : c.yellow(p.status);
      output.line(`  ${p.name.padEnd(8)} ${mark.padEnd(14)} ${p.ms ? seconds(p.ms).padStart(8) : ''.padStart(8)}  ${p.detail}`);
    }
    output.line(c.dim('the lab keeps running: `kubi-provision lab down` removes it'));
    // k3s "planned, not applied" is the honest outcome of an offline lab without a k3s binary, not a failure
    if (phases.some((p) => p.status !== 'passed' && p.status !== 'planned, not applied')) process.exitCode = 1;
  });
}
