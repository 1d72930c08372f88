// After a watcher burst: its top directories, compared once more when it has settled.
// inotify drops events when its queue overflows (a burst on a busy machine), and parcel does not
// report that, so a directory none of whose events were reported is in no rescan of the burst
// (bench: the last 12 files of one leaf directory of a 10,000-file cp -a never left the host).
// The rescan goes down only into directories changed since the burst began, and a directory the
// link knows the target holds is checked against that knowledge, locally (engine/push.ts
// checkLocally): tens of milliseconds for a 10,000-file burst that all went.
import type { PendingChange } from '../core/types.js';

export class BurstSettle {
  private tops = new Set<string>();
  private since = 0;
  private timer: NodeJS.Timeout | null = null;

  /** settleMs: how long without a new burst batch means the burst is over */
  constructor(
    private readonly settleMs: number,
    private readonly onSettled: (changes: PendingChange[]) => void,
  ) {}

  /** a burst's rescans (directories): remember their top directories; (re)start the wait */
  add(dirs: string[], now = Date.now()): void {
    if (dirs.length === 0) return;
    if (!this.timer) this.since = now;
    for (const d of dirs) this.tops.add(d === '' ? '' : d.split('/', 1)[0]!);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.settle(), this.settleMs);
    this.timer.unref();
  }

  private settle(): void {
    this.timer = null;
    const tops = this.tops.has('') ? [''] : [...this.tops].sort();
    this.tops = new Set();
    const at = Date.now();
    this.onSettled(tops.map((path) => ({ path, kind: 'change', since: this.since, at, tree: true })));
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.tops.clear();
  }
}
