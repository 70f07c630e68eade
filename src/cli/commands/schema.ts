/**
 * `kubi-provision schema [--output FILE]`: print the JSON Schema of the inventory (input side:
 * fields with defaults are optional), or write it atomically to FILE. The committed copy at
 * schema/inventory.schema.json is written with `npm run schema:write`.
 */
import type { Command } from 'commander';
import type { CliContext } from '../output.js';

export function register(program: Command, cli: CliContext): void {
  program
    .command('schema')
    .description('print the JSON Schema of the inventory file (for editors and CI)')
    .option('-o, --output <file>', 'write the schema to this file (atomically) instead of stdout')
    .action(async (opts: { output?: string }) => {
      const { inventoryJsonSchemaText } = await import('../../inventory/json-schema.js');
      const text = inventoryJsonSchemaText();
      if (opts.output === undefined) {
        cli.output.out(text);
        return;
      }
      const { writeFileAtomic } = await import('../../fs-atomic.js');
      await writeFileAtomic(opts.output, text, 0o644);
      cli.output.errLine(`wrote ${opts.output}`);
    });
}
