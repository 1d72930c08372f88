// Holds: "my batch is writing under these paths of yours right now". A pusher says so in the
// target's inbox before a batch of some size (engine/runner.ts), its streamed manifests renew it,
// and the batch's last manifest releases it.
//
// Why. The target's own watcher sees every file the pusher writes there, usually before the
// manifest naming it has arrived (manifests follow the writes: every 500 changes or 250 ms, and a
// busy machine stretches that). Taken as changes of its own, those events make the target send
// the files on before it knows where they came from — sent twice down the ring, announced as set
// out from there, so the next hops compare them back round instead of stopping at their origin
// (bench: a 10,000-file burst cost 40% more CPU that way, and twice the time in some runs).
// While a hold covers a path, the target's own events for it wait (engine/queue.ts) until the
// manifest that names it has come (the two then go as one arrival) or the hold ends; a tree the
// target would send on from inside a hold is compared once the hold ends (engine/push.ts).
//
// A hold never stops anything for long: it lapses `maxMs` after its last renewal (a pusher that
// died mid-batch), and an event waits at most `maxMs` for it.

export class Holds {
  private readonly bySender = new Map<string, { prefixes: string[]; renewed: number }>();

  constructor(
    readonly maxMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** a manifest from `from`: a hold (its prefixes; '' = the whole tree), a release, or neither (it renews) */
  update(from: string, m: { hold?: string[]; release?: boolean }): void {
    if (m.release) this.bySender.delete(from);
    else if (m.hold) this.bySender.set(from, { prefixes: m.hold, renewed: this.now() });
    else {
      const h = this.bySender.get(from);
      if (h) h.renewed = this.now();
    }
  }

  /** some live hold covers path */
  covers(path: string): boolean {
    if (this.bySender.size === 0) return false;
    const now = this.now();
    for (const [from, h] of this.bySender) {
      if (now - h.renewed > this.maxMs) {
        this.bySender.delete(from);
        continue;
      }
      if (h.prefixes.some((p) => p === '' || path === p || path.startsWith(p + '/'))) return true;
    }
    return false;
  }

  get active(): boolean {
    return this.bySender.size > 0;
  }
}

/** a hold lapses this long after its last renewal, and a change waits for one at most this long
 *  (or five intervals, if longer) */
export const HOLD_MAX_MS = 5_000;

/** batches smaller than this go without a hold: their manifest follows within a few milliseconds */
export const HOLD_MIN_BATCH = 16;
const MAX_PREFIXES = 64;

/**
 * What a batch may write under on the target: the first component of each path (the whole tree
 * for the root, or for a batch spread over many top directories); null for a small batch.
 */
export function holdPrefixes(batch: { path: string; tree?: boolean }[]): string[] | null {
  if (batch.length < HOLD_MIN_BATCH && !batch.some((c) => c.tree)) return null;
  const tops = new Set<string>();
  for (const c of batch) {
    if (c.path === '') return [''];
    const slash = c.path.indexOf('/');
    tops.add(slash < 0 ? c.path : c.path.slice(0, slash));
    if (tops.size > MAX_PREFIXES) return [''];
  }
  return [...tops].sort();
}
