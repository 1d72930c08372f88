// A counting semaphore. SFTP pipelines requests on one channel; bounding how many are outstanding
// keeps latency hidden without letting a burst of 100k calls queue 100k packets (and buffers) at once.
export class Limit {
  private active = 0;
  // a FIFO of waiters; an index instead of shift() keeps a long queue O(1) per release
  private waiters: Array<() => void> = [];
  private head = 0;

  constructor(readonly max: number) {
    if (!(max >= 1)) throw new RangeError(`limit must be at least 1, got ${max}`);
  }

  /** Operations running right now. */
  get running(): number {
    return this.active;
  }

  /** Operations waiting for a slot. */
  get waiting(): number {
    return this.waiters.length - this.head;
  }

  /** A slot now, or undefined when none is free (no promise, no turn of the event loop). */
  tryAcquire(): (() => void) | undefined {
    if (this.active >= this.max) return undefined;
    this.active++;
    return this.releaser();
  }

  /** Wait for a slot; call the returned function exactly once to give it back. `first`: ahead of
   *  everyone waiting (a small control write that must not wait behind a queue of bulk work). */
  acquire(first = false): Promise<() => void> {
    const now = this.tryAcquire();
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => {
      const w = () => resolve(this.releaser());
      if (!first) this.waiters.push(w);
      else if (this.head > 0) this.waiters[--this.head] = w;
      else this.waiters.unshift(w);
    });
  }

  /** Run fn with a slot held (`first`: see acquire). */
  async run<T>(fn: () => Promise<T>, first = false): Promise<T> {
    const release = await this.acquire(first);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (this.head < this.waiters.length) {
        // hand the slot straight to the next waiter: active stays the same
        const next = this.waiters[this.head];
        this.waiters[this.head++] = undefined as unknown as () => void;
        if (this.head > 1024 && this.head * 2 > this.waiters.length) {
          this.waiters = this.waiters.slice(this.head);
          this.head = 0;
        }
        next();
      } else {
        this.active--;
      }
    };
  }
}
