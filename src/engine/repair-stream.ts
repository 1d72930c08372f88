// Starts the safe part of a repair while the trees are still being listed, so copying overlaps
// listing instead of waiting for it (a host restored from nothing starts receiving at once).
// A directory's entries are decided (core/reconcile.ts RowPlanner, the same rules as the full
// plan) once every host holding that directory has listed it; only actions that destroy nothing
// start early: new files and directories, newer versions of files (the old version still goes to
// the trash), new or changed symlinks, file modes. Anything else (deletes, replaced directories,
// conflict copies, directory modes) waits for the full plan, and so does a directory whose
// decision needs its whole subtree, with everything under it. Nothing starts before every host's
// root has been listed and the empty-root check has passed — except a file or symlink that every
// host taking part holds: no listing still to come can change its decision (its ancestors are
// directories everywhere, and no root holding it is empty), so it is decided as soon as the last
// of them reports it. That is what a repair of a few changed files among many needs: their copies
// start while the rest is listed, not after the slowest host's root is complete.
import type { Listings } from '../core/listings.js';
import { T_DIR, T_FILE, T_LINK, T_NONE } from '../core/listings.js';
import { RowPlanner, roles, type ReconcileOptions, type RepairAction } from '../core/reconcile.js';

export type Dispatch = (host: number, action: RepairAction) => void;

export class StreamPlanner {
  private readonly planner: RowPlanner;
  /** per directory row (-1: the root), the hosts (bits) that have listed it */
  private readonly listed = new Map<number, number>();
  /** per directory row, the rows found in it so far (on any host; a row twice when two hosts hold it) */
  private readonly children = new Map<number, number[]>();
  /** directories decided to stay directories, waiting for every holder to list them */
  private readonly waiting = new Set<number>();
  /** per host, the rows an action was started for (the full plan leaves them out) */
  private readonly started: Uint8Array[];
  /** rows decided already (each is decided once) */
  private decided = new Uint8Array(1024);
  private off = false;

  constructor(
    private readonly l: Listings,
    private readonly o: ReconcileOptions,
    private readonly live: boolean[],
    private readonly dispatch: Dispatch,
  ) {
    this.planner = new RowPlanner(l, o);
    this.started = l.hosts.map(() => new Uint8Array(1024));
    this.waiting.add(-1);
  }

  /** host h has listed directory row (-1: the root) */
  onDir(h: number, row: number, rows: number[]): void {
    this.listed.set(row, (this.listed.get(row) ?? 0) | (1 << h));
    const known = this.children.get(row);
    if (!known) this.children.set(row, rows.slice());
    else for (const r of rows) known.push(r);
    if (this.waiting.has(row)) this.tryDir(row);
    this.everywhere(rows);
  }

  /** decide the rows of rows that every host taking part holds as a file or symlink */
  private everywhere(rows: number[]): void {
    if (this.off) return;
    const hosts = this.involved();
    if (hosts.length < 2) return;
    for (const r of rows) {
      if (r < this.decided.length && this.decided[r] === 1) continue;
      let all = true;
      for (const h of hosts) {
        const t = this.l.typeCode(h, r);
        if (t !== T_FILE && t !== T_LINK) {
          all = false;
          break;
        }
      }
      if (all) this.decide(r);
    }
  }

  /** host h stopped answering: directories may be complete without it now */
  hostDown(h: number): void {
    this.live[h] = false;
    for (const row of [...this.waiting]) this.tryDir(row);
  }

  /** whether an action for (h, row) was started early */
  wasStarted(h: number, row: number): boolean {
    const s = this.started[h]!;
    return row < s.length && s[row] === 1;
  }

  /** no more early starts (the listing is done, or failed) */
  stop(): void {
    this.off = true;
    this.children.clear();
  }

  private involved(): number[] {
    return roles(this.o.mode, this.l.hosts.length, this.live).involved;
  }

  /** decide a directory's entries when every host holding it has listed it */
  private tryDir(row: number): void {
    if (this.off) return;
    const bits = this.listed.get(row) ?? 0;
    const hosts = this.involved();
    for (const h of hosts) {
      const holds = row === -1 || this.l.typeCode(h, row) === T_DIR;
      if (holds && !(bits & (1 << h))) return;
    }
    this.waiting.delete(row);
    if (row === -1 && !this.rootsOk(hosts)) return this.stop();
    const rows = this.children.get(row) ?? [];
    this.children.delete(row);
    this.listed.delete(row);
    for (const r of rows) this.decide(r);
  }

  private decide(r: number): void {
    if (r >= this.decided.length) {
      const n = new Uint8Array(Math.max(r + 1, this.decided.length * 2));
      n.set(this.decided);
      this.decided = n;
    }
    if (this.decided[r] === 1) return;
    this.decided[r] = 1;
    const d = this.planner.row(r, this.live);
    // needs more than this directory: the full plan decides it, and what is under it
    if (!d || !d.actions.every((x) => safe(x.action))) return;
    for (const { host, action } of d.actions) {
      this.mark(host, r);
      this.dispatch(host, action);
    }
    if (d.dir) {
      this.waiting.add(r);
      this.tryDir(r);
    }
  }

  /** the empty-root check of reconcile(), on the roots' listings: when it would stop, start nothing */
  private rootsOk(hosts: number[]): boolean {
    const count = (h: number) => this.children.get(-1)?.some((r) => this.l.typeCode(h, r) !== T_NONE) ?? false;
    const full = hosts.filter(count);
    const empty = hosts.filter((h) => !count(h));
    if (full.length === 0 || empty.length === 0) return true;
    if (this.o.mode.kind === 'ring') return false;
    const src = this.o.mode.source;
    return !(this.o.delete && empty.includes(src));
  }

  private mark(h: number, row: number): void {
    let s = this.started[h]!;
    if (row >= s.length) {
      const n = new Uint8Array(Math.max(row + 1, s.length * 2));
      n.set(s);
      this.started[h] = s = n;
    }
    s[row] = 1;
  }
}

/** actions that destroy nothing (what a file replaces still goes to the trash) */
function safe(a: RepairAction): boolean {
  switch (a.op) {
    case 'copy':
      return !a.expect || a.expect.type === 'file';
    case 'mkdir':
      return !a.expect && (a.entry.mode & 0o700) === 0o700;
    case 'symlink':
      return !a.expect || a.expect.type === 'symlink';
    case 'setattr':
      return a.entry.type === 'file';
    default:
      return false;
  }
}
