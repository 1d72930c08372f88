// Bounded parallelism: keep up to `limit` operations in flight, so SFTP requests are pipelined
// instead of waiting one round trip per path.
export async function forEachLimit<T>(items: Iterable<T>, limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const it = items[Symbol.iterator]();
  let failed: unknown = null;
  let hasFailed = false;
  const worker = async () => {
    for (;;) {
      if (hasFailed) return;
      const n = it.next();
      if (n.done) return;
      try {
        await fn(n.value);
      } catch (e) {
        if (!hasFailed) {
          hasFailed = true;
          failed = e;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (hasFailed) throw failed;
}

/** A once-per-key memo of promises (e.g. "this directory exists on the target"). */
export class Once<K> {
  private readonly done = new Map<K, Promise<void>>();
  run(key: K, fn: () => Promise<void>): Promise<void> {
    let p = this.done.get(key);
    if (!p) {
      p = fn();
      this.done.set(key, p);
      p.catch(() => this.done.delete(key));
    }
    return p;
  }
  clear(): void {
    this.done.clear();
  }
}
