/** Bounded parallelism over a list, started in list order (no dependency: a tiny worker pool). */

/**
 * Run `fn` over `items` with at most `limit` calls in flight. Every started call settles before
 * the returned promise settles. `shouldStart()` is asked before starting each item: once it
 * returns false no new work starts and the remaining items go to `onNotStarted`. If a call
 * throws, no new work starts either, and the first error is rethrown after the others settle.
 */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
  opts: { shouldStart?: () => boolean; onNotStarted?: (item: T, index: number) => void } = {},
): Promise<void> {
  const width = Math.max(1, Math.min(Math.floor(limit) || 1, items.length || 1));
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      const item = items[i]!;
      if (failed || (opts.shouldStart && !opts.shouldStart())) {
        opts.onNotStarted?.(item, i);
        continue;
      }
      try {
        await fn(item, i);
      } catch (e) {
        if (!failed) firstError = e;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: width }, () => worker()));
  if (failed) throw firstError;
}
