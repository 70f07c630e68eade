/** A tiny counting semaphore: bounds the exec channels open at once on one SSH connection. */
export class Semaphore {
  private active = 0;
  private readonly waiters: { resolve: (release: () => void) => void; reject: (e: unknown) => void }[] = [];
  private failure: unknown = null;

  constructor(private readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError('semaphore limit must be at least 1');
  }

  get inUse(): number {
    return this.active;
  }

  acquire(): Promise<() => void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Reject every waiter and every later acquire with `err` (the connection is gone). */
  fail(err: unknown): void {
    this.failure = err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiters.shift();
      if (next) next.resolve(this.releaser());
      else this.active--;
    };
  }
}
