// The paths waiting for one link. Local events collect in a window that closes `interval` after
// its first event (a batch never waits longer); paths that arrived from the predecessor (its inbox
// manifest) and retries skip the window, so a change crossing the ring pays the interval once,
// on the host where it was made, and each further hop forwards it at once.
// Ready paths drain in order of first change. With a journal, every change goes to disk (in the
// journal's next group commit: durable() says when) and leaves it only when settle() says it was
// delivered.
import type { FsEvent, PendingChange } from '../core/types.js';
import { coalesce, type Pending } from '../core/coalesce.js';
import type { Journal } from './journal.js';

export interface HoldCheck {
  /** the predecessor is writing under this path now (engine/holds.ts) */
  covers(path: string): boolean;
  /** the longest a local change waits for a hold */
  maxMs: number;
}

export class ChangeQueue {
  private window = new Map<string, Pending>();
  private timer: NodeJS.Timeout | null = null;
  private readonly ready = new Map<string, PendingChange>();
  /** local changes whose window closed under a hold: they wait for the manifest naming them, the
   *  end of the hold, or `until` (engine/holds.ts) */
  private readonly deferred = new Map<string, { change: PendingChange; until: number }>();
  private deferTimer: NodeJS.Timeout | null = null;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly intervalMs: number,
    private readonly journal?: Journal,
    private readonly holds?: HoldCheck,
    /** the target is known to hold something at this path (a create and delete in one window are then a delete) */
    private readonly elsewhere?: (path: string) => boolean,
  ) {
    // what was waiting when the process stopped goes first
    if (journal) for (const c of journal.pending()) this.merge(c);
  }

  /** local watcher events: they wait for the window */
  addEvents(events: FsEvent[]): void {
    if (events.length === 0) return;
    this.journal?.add(events.map((e) => ({ path: e.path, kind: e.kind === 'delete' ? 'delete' : 'change', since: e.at, at: e.at })));
    coalesce(this.window, events, this.elsewhere);
    // created and deleted inside the window: nothing to send, nothing to keep on disk
    if (this.journal) this.settle(events.map((e) => e.path));
    if (this.window.size === 0) return;
    if (!this.timer) this.timer = setTimeout(() => this.flush(), this.intervalMs);
  }

  /** directories whose events the watcher may have lost (a burst): compared at once, which on the
   *  host where the burst is made starts it on its way before the window closes. Under a hold
   *  (engine/holds.ts) they wait like our own events: there the predecessor is writing, and what it
   *  wrote comes announced. */
  addRescan(changes: PendingChange[]): void {
    if (changes.length === 0) return;
    this.journal?.add(changes);
    const now = Date.now();
    let ready = false;
    for (const c of changes) {
      const d = this.deferred.get(c.path);
      if (d) {
        d.change.tree = true;
        if (c.full) d.change.full = true;
      } else if (this.holds?.covers(c.path) && !this.ready.has(c.path)) this.deferred.set(c.path, { change: { ...c, tree: true }, until: now + this.holds.maxMs });
      else {
        this.merge({ ...c, tree: true });
        ready = true;
      }
    }
    if (this.deferred.size && !this.deferTimer) this.releaseHeld(now);
    if (ready) this.wake();
  }

  /** changes that should go at once (forwarded arrivals, retries) */
  addReady(changes: Iterable<PendingChange>): void {
    const list = [...changes];
    this.journal?.add(list);
    for (const c of list) {
      // our watcher's event for what the predecessor just wrote: one arrival, not two changes
      const d = this.deferred.get(c.path);
      if (d) {
        this.deferred.delete(c.path);
        this.merge(d.change);
      }
      this.merge(c);
    }
    this.wake();
  }

  /** deferred changes whose hold ended or that waited long enough become ready */
  releaseHeld(now = Date.now()): void {
    if (this.deferTimer) clearTimeout(this.deferTimer);
    this.deferTimer = null;
    let next = Infinity;
    let moved = false;
    for (const [path, d] of this.deferred) {
      if (now >= d.until || !this.holds?.covers(path)) {
        this.deferred.delete(path);
        this.merge(d.change);
        moved = true;
      } else next = Math.min(next, d.until);
    }
    if (next !== Infinity) {
      this.deferTimer = setTimeout(() => this.releaseHeld(), Math.max(1, next - now));
      this.deferTimer.unref();
    }
    if (moved) this.wake();
  }

  /** changes to remember on disk without making them ready now: a path that failed inside a tree
   *  compare (not a change of its own in the batch) waits for its retry, or for the next run */
  keep(changes: Iterable<PendingChange>): void {
    this.journal?.add(changes);
  }

  /** paths that were delivered: forget them on disk unless they changed again meanwhile */
  settle(paths: Iterable<string>): void {
    if (!this.journal) return;
    const done: string[] = [];
    for (const p of paths) if (!this.window.has(p) && !this.ready.has(p) && !this.deferred.has(p)) done.push(p);
    this.journal.done(done);
  }

  /** everything waiting (window and ready), e.g. to seed a bypass link */
  snapshot(): PendingChange[] {
    return [...this.ready.values(), ...[...this.deferred.values()].map((d) => d.change), ...this.window.values()].map((c) => ({ path: c.path, kind: c.kind, since: c.since, at: c.at, ...(c.tree ? { tree: true } : {}), ...(c.deep ? { deep: true } : {}), ...(c.full ? { full: true } : {}), ...(c.arrived ? { arrived: c.arrived } : {}) }));
  }

  /** close the window now; `all` (shutdown, one-shot push): what waits for a hold goes too */
  flush(all = false): void {
    if (all) this.releaseHeld(Infinity);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const w = this.window;
    this.window = new Map();
    const now = Date.now();
    let deferred = false;
    for (const p of w.values()) {
      const c: PendingChange = { path: p.path, kind: p.kind, since: p.since, at: p.at };
      if (!all && this.holds?.covers(p.path) && !this.ready.has(p.path)) {
        const prev = this.deferred.get(p.path);
        if (prev) Object.assign(prev.change, { kind: c.kind, at: c.at });
        else this.deferred.set(p.path, { change: c, until: now + this.holds.maxMs });
        deferred = true;
      } else this.merge(c);
    }
    if (deferred && !this.deferTimer) this.releaseHeld(now);
    this.wake();
  }

  private merge(c: PendingChange): void {
    const prev = this.ready.get(c.path);
    if (prev) {
      prev.kind = c.kind;
      prev.at = Math.max(prev.at, c.at);
      prev.since = Math.min(prev.since, c.since);
      if (c.tree) prev.tree = true;
      if (c.deep) prev.deep = true;
      if (c.full) prev.full = true;
      if (c.arrived) prev.arrived = mergeArrived(prev.arrived, c.arrived);
    } else {
      this.ready.set(c.path, { ...c });
    }
  }

  /** what the predecessor said of a ready path (its inbox manifest), if anything */
  arrival(path: string): PendingChange['arrived'] | undefined {
    return this.ready.get(path)?.arrived;
  }

  /** up to max ready changes, oldest first (removed from the queue) */
  take(max: number): PendingChange[] {
    const out: PendingChange[] = [];
    for (const [k, v] of this.ready) {
      if (out.length >= max) break;
      out.push(v);
      this.ready.delete(k);
    }
    return out;
  }

  /** resolves when something is ready (or at once if it is) */
  whenReady(): Promise<void> {
    if (this.ready.size > 0) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** wake anyone waiting (e.g. on shutdown) */
  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
  }

  /** changes that may go now (a batch taken now would not be empty) */
  get readyCount(): number {
    return this.ready.size;
  }

  get pending(): number {
    return this.ready.size + this.window.size + this.deferred.size;
  }

  /** ms since epoch of the oldest waiting change, or null */
  oldest(): number | null {
    let min: number | null = null;
    for (const m of [this.ready, this.window]) for (const c of m.values()) if (min === null || c.since < min) min = c.since;
    for (const { change: c } of this.deferred.values()) if (min === null || c.since < min) min = c.since;
    return min;
  }

  /** resolves when every change recorded so far is on disk (at once without a journal) */
  durable(): Promise<void> {
    return this.journal?.durable() ?? Promise.resolve();
  }

  /** stop; resolves when the journal holds everything recorded, durably, and is closed */
  close(): Promise<void> {
    const closed = this.journal?.close() ?? Promise.resolve();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.deferTimer) clearTimeout(this.deferTimer);
    this.deferTimer = null;
    const w = this.waiters;
    this.waiters = [];
    for (const r of w) r();
    return closed;
  }
}

/** the later arrival says what is here now; the farther reach of the two is kept */
function mergeArrived(prev: PendingChange['arrived'], next: NonNullable<PendingChange['arrived']>): NonNullable<PendingChange['arrived']> {
  return prev ? { ...next, hops: Math.max(prev.hops, next.hops) } : next;
}
