/**
 * A structural reader for keepalived.conf in tests: statements are words up to the end of the
 * line, a statement ending in `{` opens a block closed by `}`; `#` and `!` start comments.
 */

export interface Statement {
  words: string[];
  block?: Statement[];
}

export function parseKeepalived(text: string): Statement[] {
  const root: Statement[] = [];
  const stack: Statement[][] = [root];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/[#!].*$/, '').trim();
    if (line === '') return;
    const words = line.split(/\s+/);
    const top = stack[stack.length - 1]!;
    if (words.length === 1 && words[0] === '}') {
      if (stack.length === 1) throw new Error(`line ${i + 1}: } without an open block`);
      stack.pop();
      return;
    }
    if (words.includes('{') || words.includes('}')) {
      if (words[words.length - 1] !== '{' || words.indexOf('{') !== words.length - 1 || words.includes('}')) {
        throw new Error(`line ${i + 1}: braces must end a line or stand alone: ${raw}`);
      }
      const st: Statement = { words: words.slice(0, -1), block: [] };
      top.push(st);
      stack.push(st.block!);
      return;
    }
    top.push({ words });
  });
  if (stack.length !== 1) throw new Error('unclosed block');
  return root;
}

/** The statement whose first words are `path` (e.g. ['vrrp_instance']) in `within`. */
export function find(within: Statement[], ...first: string[]): Statement | undefined {
  return within.find((s) => first.every((w, i) => s.words[i] === w));
}

export function findAll(within: Statement[], first: string): Statement[] {
  return within.filter((s) => s.words[0] === first);
}
