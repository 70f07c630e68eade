/**
 * `kubi-provision schema [--output FILE]`: print the JSON Schema of the inventory (input side:
 * fields with defaults are optional), or write it atomically to FILE. The committed copy at
 * schema/inventory.schema.json is written with `npm run schema:write`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
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
      await writeFileAtomic(opts.output, text);
      cli.output.errLine(`wrote ${opts.output}`);
    });
}

/** Write via a temp file in the same directory, then rename (readers never see half a file). */
async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    await fs.writeFile(tmp, text, { mode: 0o644 });
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}
