/** Confirmation: --yes goes on, a terminal answers, anything else refuses before touching anything. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { confirm } from '../../src/lifecycle/confirm.js';

function tty(answer: string): NodeJS.ReadableStream & { isTTY: boolean } {
  const s = new PassThrough() as PassThrough & { isTTY: boolean };
  s.isTTY = true;
  setTimeout(() => s.write(`${answer}\n`), 10);
  return s;
}

describe('confirm', () => {
  const sink = () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += String(d)));
    return { out, text: () => text };
  };

  it('--yes asks nothing', async () => {
    await expect(confirm('reset node1', ['x'], { yes: true, input: new PassThrough() })).resolves.toBeUndefined();
  });

  it('no terminal: refused as a usage error (exit 2), nothing asked', async () => {
    const err = await confirm('reset node1', ['x'], { input: new PassThrough() }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'usage', exitCode: 2, message: 'reset node1 needs a confirmation: nothing was changed' });
  });

  it('a terminal answering yes goes on; anything else cancels', async () => {
    const a = sink();
    await expect(confirm('replace node3', ['replace node3 (10.0.0.13): ...'], { input: tty('yes'), output: a.out })).resolves.toBeUndefined();
    expect(a.text()).toContain('replace node3? type yes to go on');
    const b = sink();
    await expect(confirm('replace node3', [], { input: tty('no'), output: b.out })).rejects.toMatchObject({ code: 'cancelled' });
  });
});
