// After a watcher burst: its top directories, compared once more when it has settled.
// inotify drops events when its queue overflows (a burst on a busy machine), and parcel does not
// report that, so a directory none of whose events were reported is in no rescan of the burst
// (bench: the last 12 files of one leaf directory of a 10,000-file cp -a never left the host).
// The rescan goes into every directory under them (`full`: a file rewritten in place leaves no trace
// on its directory, and cp -a, tar and rsync -a set a directory's times back once they have filled
// it); an entry changed since the burst began (its ctime) is checked against what the link knows
// the target holds, locally (engine/push.ts checkLocally), and looked up there only where that
// differs. A local walk: ~75 ms of CPU for a 10,000-file burst that all went, 0.75 s per 100,000.
// The root is a top for files written straight into it; beside other tops (a new directory made in
// the root) only its own entries and its directories changed since the burst began are looked at.
// "Settled" means quiet: no event under the burst's top directories for settleMs (a copy on a slow
// disk goes on in batches too small to count as a burst: bench, 2026-11-22, a 10,000-file cp -a
// that took 6.8 s left the last 90 files of its last directory behind when the rescan came while
// it was still writing), but at most maxMs after the burst's last large batch, so a directory that
// never stops changing is still rescanned. Many events in a short time count as a burst even when
// no single batch is large.
import type { PendingChange } from '../core/types.js';

export interface BurstSettleOptions {
  /** events within settleMs that make a burst even in small batches (default 1000, the watcher's) */
  burst?: number;
  /** the latest a pending rescan waits after the burst's last large batch (default 15 × settleMs) */
  maxMs?: number;
}

const SLASH = 0x2f;

/** the top directory of a root-relative path ('' for the root) */
function topOf(path: string): string {
  const i = path.indexOf('/');
  return i === -1 ? path : path.slice(0, i);
}

export class BurstSettle {
  private tops = new Set<string>();
  private since = 0;
  private timer: NodeJS.Timeout | null = null;
  private lastBurst = 0;
  private due = 0;
  // events counted since windowStart while no rescan is pending (bursts of small batches)
  private windowStart = 0;
  private windowCount = 0;
  private windowTops = new Set<string>();
  private readonly burst: number;
  private readonly maxMs: number;

  /** settleMs: how long without an event under the burst's directories means the burst is over */
  constructor(
    private readonly settleMs: number,
    private readonly onSettled: (changes: PendingChange[]) => void,
    o: BurstSettleOptions = {},
  ) {
    this.burst = o.burst ?? 1000;
    this.maxMs = o.maxMs ?? 15 * settleMs;
  }

  /** a burst's rescans (directories): remember their top directories; (re)start the wait. since:
   *  when the burst began (default now); a pending rescan keeps the earlier start */
  add(dirs: readonly string[], now = Date.now(), since = now): void {
    if (dirs.length === 0) return;
    this.since = this.timer ? Math.min(this.since, since) : since;
    for (const d of dirs) this.tops.add(topOf(d));
    this.lastBurst = now;
    this.arm(now, now + this.settleMs);
  }

  /**
   * Every batch of events (root-relative paths): while a rescan is pending, an event under one of
   * its top directories makes it wait settleMs more (up to maxMs after the last burst); other
   * events are counted, and `burst` of them within settleMs make a burst of their tops.
   */
  activity(events: readonly { path: string }[], now = Date.now()): void {
    if (events.length === 0) return;
    if (this.timer) {
      const all = this.tops.has('');
      if (events.some((e) => all || this.tops.has(topOf(e.path)))) {
        const due = Math.min(now + this.settleMs, this.lastBurst + this.maxMs);
        if (due > this.due) this.arm(now, due);
        return;
      }
    }
    if (now - this.windowStart > this.settleMs) {
      this.windowStart = now;
      this.windowCount = 0;
      this.windowTops.clear();
    }
    this.windowCount += events.length;
    // (a batch comes sorted by path: most events share the previous one's top, no slice needed)
    let last = '\0';
    for (const { path } of events) {
      if (path.startsWith(last) && (path.length === last.length || path.charCodeAt(last.length) === SLASH)) continue;
      last = topOf(path);
      this.windowTops.add(last);
    }
    if (this.windowCount < this.burst) return;
    const tops = [...this.windowTops];
    this.windowCount = 0;
    this.windowTops.clear();
    this.add(tops, now, this.windowStart);
  }

  /** fire at `due` (in the clock of `now`, the caller's) */
  private arm(now: number, due: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.due = due;
    this.timer = setTimeout(() => this.settle(), Math.max(0, due - now));
    this.timer.unref();
  }

  private settle(): void {
    this.timer = null;
    const tops = [...this.tops].sort();
    this.tops = new Set();
    const at = Date.now();
    // The root is a top when the burst changed its entries: most often by making a new directory
    // there (cp -a of a tree into the root), which is a top of its own. Every directory of the
    // whole tree, gone into for that, would cost an lstat per entry of the root (0.75 CPU-s per
    // 100,000 entries) after every such burst. So beside other tops, the root's own entries are
    // compared, and only directories changed since the burst began (their ctime) are gone into;
    // alone (files written straight into the root) it stays a full rescan.
    const shallowRoot = tops.length > 1;
    this.onSettled(tops.map((path) => ({ path, kind: 'change', since: this.since, at, tree: true, ...(path === '' && shallowRoot ? {} : { full: true }) })));
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.tops.clear();
    this.windowCount = 0;
    this.windowTops.clear();
  }
}
