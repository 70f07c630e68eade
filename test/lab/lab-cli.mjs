// Runs the `lab` command module exactly as the CLI registers it (from dist/, built by the global
// test setup), for tests: `node test/lab/lab-cli.mjs lab up --nodes 3 ...`. main.ts registers the same
// module, so `node bin/kubi-provision.js lab ...` behaves alike; this keeps the lab tests independent of
// the rest of the CLI.
import { Command } from 'commander';

const root = new URL('../../', import.meta.url);
const { register } = await import(new URL('dist/cli/commands/lab.js', root).href);
const { createOutput } = await import(new URL('dist/cli/output.js', root).href);
const { reportError } = await import(new URL('dist/cli/errors.js', root).href);

const output = createOutput();
const program = new Command().name('kubi-provision').exitOverride();
register(program, { output, debug: false });
try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err, output, { debug: false });
}
