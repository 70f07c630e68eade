/**
 * THE one quoting function of the tool: turns an argv into a command line that any POSIX shell
 * (the remote login shell runs it with `-c`) splits back into exactly the same words.
 *
 * Style: words made only of characters no shell treats specially stay bare (so commands in logs
 * and error messages read naturally and paste cleanly); everything else is wrapped in single
 * quotes, where only the single quote itself needs care (`'` becomes `'\''`). NUL cannot be
 * carried by any argv, so it is refused.
 */
import { KubiError } from '../errors.js';

/** Characters that are literal everywhere in a word in sh, bash, dash and zsh. `=` is not allowed first (zsh expands `=cmd`). */
const BARE_WORD = /^[A-Za-z0-9_./,:@+-][A-Za-z0-9_./,:@+=-]*$/;

/** Quote one word. */
export function quoteWord(word: string): string {
  if (word.includes('\0')) {
    throw new KubiError('invalid-argument', 'a command argument contains a NUL byte, which no shell can pass', {
      hint: 'this is a bug in the caller: remove the NUL byte (binary data belongs on stdin or in putFile)',
    });
  }
  if (BARE_WORD.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Quote an argv into one command line (words separated by a single space). */
export function shellQuote(argv: readonly string[]): string {
  return argv.map(quoteWord).join(' ');
}
