// The CLI as the lab tests run it: the command modules `lab`, `plan`/`up` and `kubeconfig` from
// dist/ (built by the global test setup), registered exactly as src/cli/main.ts registers its
// modules, with the one error handler. `node test/steps/k3s/kubi-cli.mjs up inventories/lab.yaml`.
// (While main.ts still registers lab and run as stubs, this is how the tests reach them.)
import { Command } from 'commander';

const root = new URL('../../../', import.meta.url);
const { createOutput } = await import(new URL('dist/cli/output.js', root).href);
const { reportError } = await import(new URL('dist/cli/errors.js', root).href);
const output = createOutput();
const program = new Command().name('kubi-provision').exitOverride();
for (const name of ['run', 'lab', 'kubeconfig']) {
  const mod = await import(new URL(`dist/cli/commands/${name}.js`, root).href);
  mod.register(program, { output, debug: false });
}
try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err, output, { debug: false });
}
