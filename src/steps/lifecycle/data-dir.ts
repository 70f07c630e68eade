/**
 * Moving an etcd data directory's CONTENTS aside (never deleting them): the directory itself may
 * be a mount point (a dedicated SSD, the lab's volume), which cannot be renamed, so its entries
 * move into a sibling directory (a rename on one file system, a copy across two) and the data
 * directory stays, empty, 0700. Used before a replace, after a failed join and before a restore.
 */
import { quoteWord } from '../../transport/quote.js';

/** Shell that prints `moved` when something was moved. */
export function moveDataAsideShell(dataDir: string, aside: string): string {
  const d = quoteWord(dataDir);
  const a = quoteWord(aside);
  return `if [ -d ${d} ] && [ -n "$(ls -A ${d} 2>/dev/null)" ]; then
  install -d -m 0700 ${a}
  find ${d} -mindepth 1 -maxdepth 1 -exec mv -t ${a} -- {} +
  echo moved
fi
install -d -m 0700 ${d}`;
}
