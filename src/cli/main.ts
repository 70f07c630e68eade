/**
 * The CLI entry (bin/kubi-provision.js imports the compiled dist/cli/main.js). Builds the
 * commander program, registers the command modules, runs it, and maps any error to an exit code
 * through the one handler in ./errors.ts (0 ok, 1 a run failed, 2 invalid input or usage).
 *
 * Adding a command: write src/cli/commands/<name>.ts exporting `register(program, cli)` (see
 * CommandModule in ./output.ts), then add one import and one entry to COMMANDS below. Keep imports here light: command modules import their
 * implementation lazily inside the action, so startup stays fast.
 */
import { createRequire } from 'node:module';
import { Command } from 'commander';
import { EXIT } from '../errors.js';
import { reportError } from './errors.js';
import { createOutput, type CliContext, type CommandModule } from './output.js';
import * as schemaCommand from './commands/schema.js';
import * as validateCommand from './commands/validate.js';
import * as kubeconfigCommand from './commands/kubeconfig.js';
import * as runCommands from './commands/run.js';
import * as labCommand from './commands/lab.js';
import * as replaceCommand from './commands/replace.js';
import * as removeCommand from './commands/remove.js';
import * as resetCommand from './commands/reset.js';
import * as backupCommand from './commands/backup.js';
import * as restoreCommand from './commands/restore.js';
import * as forgetHostCommand from './commands/forget-host.js';
import * as verifyCommand from './commands/verify.js';

/** Registered in this order (the order `--help` lists them). */
const COMMANDS: readonly CommandModule[] = [validateCommand, schemaCommand, kubeconfigCommand, runCommands, labCommand, forgetHostCommand, replaceCommand, removeCommand, resetCommand, backupCommand, restoreCommand, verifyCommand];

const HELP_FOOTER = `
Exit codes:
  0  success
  1  a run failed (a host, a step, a command); see the message and the run log
  2  invalid input or usage (bad inventory, unknown command or flag): nothing was touched

Environment:
  NO_COLOR     when set (non-empty), no colours
  FORCE_COLOR  colours even when stdout is not a terminal
  KUBI_DEBUG   1 = like --debug

Example:
  kubi-provision validate inventories/homelab.yaml
  kubi-provision up inventories/homelab.yaml`;

function packageVersion(): string {
  // dist/cli/main.js and src/cli/main.ts both sit two levels below the package root
  const require = createRequire(import.meta.url);
  return (require('../../package.json') as { version: string }).version;
}

export function buildProgram(cli: CliContext): Command {
  const { output } = cli;
  const program = new Command();
  program
    .name('kubi-provision')
    .description('Turn a few bare-metal machines or Raspberry Pis into a highly available Kubernetes cluster, step by step')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .option('--debug', 'show stack traces for internal errors')
    .option('--no-color', 'no colours (also: NO_COLOR=1)')
    .exitOverride()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({
      writeOut: (s) => output.out(s),
      writeErr: (s) => output.err(s),
      outputError: (s, write) => write(output.errColor.red(s)),
    })
    .addHelpText('after', HELP_FOOTER);
  for (const module of COMMANDS) module.register(program, cli);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const args = argv.slice(2);
  const debug = args.includes('--debug') || process.env.KUBI_DEBUG === '1';
  const output = createOutput({ noColor: args.includes('--no-color') });
  const cli: CliContext = { output, debug };
  try {
    const program = buildProgram(cli);
    if (args.length === 0) {
      // no command: show help on stderr, it is a usage error
      output.err(program.helpInformation());
      return EXIT.invalidInput;
    }
    await program.parseAsync([...argv]);
    // a command may end with a failure it has already reported (process.exitCode = 1)
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    return reportError(err, output, { debug });
  }
}

process.on('unhandledRejection', (reason) => {
  process.exitCode = reportError(reason, createOutput(), { debug: process.argv.includes('--debug') });
});

process.exitCode = await main(process.argv);
