// N hosts' trees → a repair plan, as a pure function (no I/O): per path, which version wins, and per
// host, what to do so that host ends up holding it. The engine (engine/repair.ts) lists the trees,
// executes the plan, and re-plans a path whose target changed under it.
//
// Who wins (the same rules as `watch`, computed identically whoever runs the repair):
//   whole ring   the newest version of each path wins everywhere. Files compare by compareVersions
//                (mtime, then size, then mode). A directory's time is the newest mtime anywhere in
//                its subtree on that host, so a directory replaced by a file on one host loses to
//                the file only if nothing inside the directory changed after the file was written.
//                Equal times across types: directory > file > symlink (the choice that destroys
//                least). Symlinks tie-break on the target, directories on the mode.
//                Nothing is deleted: a path missing on some hosts may be a delete or a create, and
//                without history the two cannot be told apart, so --delete needs a source.
//                With `conflicts: keep`, losing file versions are kept as conflict copies on every
//                host, except the oldest when every host holds some version (see losers()).
//                Sockets, FIFOs and devices are never replicated nor replaced.
//   --from S     S's version wins everywhere S has the path; S itself never changes. With --delete,
//                what S lacks is removed elsewhere; without it, it is left as it is.
//   --link A:B   the same, with B the only host that changes.
// Safety (mutagen's safety.go): a host whose root is missing, or empty while others hold files, is
// not taken as "everything was deleted": the whole-ring repair stops and says so; with a source it
// may only receive. An empty source with --delete stops too. maxDelete bounds the deletes.
import type { Entry } from './types.js';
import { compareVersions, sameContent } from './entry.js';
import { Listings, T_DIR, T_FILE, T_LINK, T_NONE, T_OTHER } from './listings.js';
import { conflictName } from './conflict.js';

export type RepairMode = { kind: 'ring' } | { kind: 'from'; source: number } | { kind: 'link'; source: number; target: number };
export type RootState = 'ok' | 'missing';

export interface ReconcileOptions {
  mode: RepairMode;
  /** remove what the source lacks (needs a source) */
  delete: boolean;
  /** config `conflicts`: with keep, losing file versions are kept as conflict copies (whole-ring repair
   *  only; with a source, the operator has said which version is right) */
  conflicts: 'newer' | 'keep';
  /** hosts taking part; false = unreachable, left out entirely (default: all) */
  live?: readonly boolean[];
  /** each host's root as listed (default: all ok) */
  roots?: readonly RootState[];
  /** stop before deleting more than this many paths */
  maxDelete?: number;
  /** the empty-root check; off when re-planning a few paths (default on) */
  safety?: boolean;
}

/**
 * One thing to do on one host. `expect` is what the plan saw there: the engine checks the path still
 * holds it before changing anything. A copy's content is read from one of `from` (hosts holding
 * exactly that version, in the order to try). `gone` counts paths that disappear with a replaced
 * directory (they count as deletes).
 */
export type RepairAction =
  | { op: 'copy'; path: string; entry: Entry; from: number[]; expect: Entry | null; gone?: number }
  | { op: 'mkdir'; path: string; entry: Entry; expect: Entry | null }
  | { op: 'symlink'; path: string; entry: Entry; expect: Entry | null; gone?: number }
  | { op: 'setattr'; path: string; entry: Entry; expect: Entry }
  | { op: 'remove'; path: string; expect: Entry; gone: number }
  /** move the losing version aside to `to` (a conflict copy) before the winner replaces it */
  | { op: 'keep'; path: string; to: string; expect: Entry };

export interface HostCounts {
  copy: number;
  bytes: number;
  mkdir: number;
  symlink: number;
  setattr: number;
  /** paths deleted (removes and the contents of replaced directories) */
  remove: number;
  keep: number;
}

export interface HostPlan {
  host: string;
  /** parents before children */
  actions: RepairAction[];
  counts: HostCounts;
}

export interface RepairPlan {
  hosts: HostPlan[];
  /** paths compared */
  compared: number;
  /** paths where some host needs a change */
  differing: number;
  deletes: number;
  conflicts: number;
  /** paths the source lacks that stay on other hosts (a --from/--link repair without --delete) */
  keptOnTargets: number;
  /** entries chain cannot replicate (sockets, FIFOs, devices); left alone. The first 100. */
  unsupported: { host: string; path: string }[];
  unsupportedCount: number;
}

export interface SafetyStop {
  reason: 'root-missing' | 'root-empty' | 'source-empty' | 'max-delete';
  host?: string;
  message: string;
  hint: string;
}

export interface ReconcileResult {
  plan: RepairPlan;
  /** set when the plan must not be applied */
  stop?: SafetyStop;
}

export const emptyCounts = (): HostCounts => ({ copy: 0, bytes: 0, mkdir: 0, symlink: 0, setattr: 0, remove: 0, keep: 0 });

/** Which hosts read and which change in a mode (unreachable hosts left out). */
export function roles(mode: RepairMode, n: number, live: readonly boolean[]): { sources: number[]; targets: number[]; involved: number[] } {
  const up = Array.from({ length: n }, (_, i) => i).filter((i) => live[i]);
  if (mode.kind === 'ring') return { sources: up, targets: up, involved: up };
  const src = live[mode.source] ? [mode.source] : [];
  const targets = mode.kind === 'link' ? up.filter((i) => i === mode.target) : up.filter((i) => i !== mode.source);
  return { sources: src, targets, involved: [...src, ...targets].sort((a, b) => a - b) };
}

export function reconcile(l: Listings, o: ReconcileOptions): ReconcileResult {
  const n = l.hosts.length;
  if (o.delete && o.mode.kind === 'ring') throw new RangeError('reconcile: delete needs a source (--from or --link)');
  const live = o.live ?? l.hosts.map(() => true);
  const { sources, targets, involved } = roles(o.mode, n, live);
  const plan: RepairPlan = {
    hosts: l.hosts.map((host) => ({ host, actions: [], counts: emptyCounts() })),
    compared: l.rows,
    differing: 0,
    deletes: 0,
    conflicts: 0,
    keptOnTargets: 0,
    unsupported: [],
    unsupportedCount: 0,
  };
  const missing = involved.find((h) => o.roots?.[h] === 'missing');
  if (missing !== undefined) return { plan, stop: rootMissing(l, missing) };
  // a source that is unreachable leaves nothing to decide
  if (sources.length === 0 || targets.length === 0) return { plan };

  const ctx = new Ctx(l, plan, o.conflicts === 'keep' && o.mode.kind === 'ring');
  // rows whose outcome is not a directory: what was under them goes with them (or stays untouched)
  const dead = new Uint8Array(l.rows);
  const ring = o.mode.kind === 'ring';
  for (let r = 0; r < l.rows; r++) {
    const p = l.parent(r);
    if (p >= 0 && dead[p]) {
      dead[r] = 1;
      continue;
    }
    // fast path: every host taking part holds the same entry
    let same = true;
    for (let i = 1; i < involved.length && same; i++) same = l.same(r, involved[0]!, involved[i]!);
    if (same && l.typeCode(involved[0]!, r) !== T_NONE) continue;
    const before = ctx.touched;
    if (ring) dead[r] = ctx.ringRow(r, involved) ? 0 : 1;
    else dead[r] = ctx.sourceRow(r, sources[0]!, targets, o.delete) ? 0 : 1;
    if (ctx.touched !== before) plan.differing++;
  }

  plan.deletes = plan.hosts.reduce((s, h) => s + h.counts.remove, 0);
  const stop = o.safety === false ? undefined : emptyRoot(l, o, sources, involved);
  if (stop) return { plan, stop };
  if (o.maxDelete !== undefined && plan.deletes > o.maxDelete) {
    const per = plan.hosts.filter((h) => h.counts.remove > 0).map((h) => `${h.host}: ${h.counts.remove}`).join(', ');
    return {
      plan,
      stop: {
        reason: 'max-delete',
        message: `this repair would delete ${plan.deletes} path${plan.deletes === 1 ? '' : 's'} (${per}), more than --max-delete ${o.maxDelete}; nothing was changed`,
        hint: 'look at the plan with --dry-run --verbose; if it is right, run again with a larger --max-delete',
      },
    };
  }
  return { plan };
}

/**
 * Row by row while the trees are still being listed (engine/repair-stream.ts starts the safe part
 * of a repair early): the same decisions reconcile() makes, for a path whose directory every host
 * has listed. Null when the decision needs more (a directory's whole subtree: a type conflict,
 * the size of a delete).
 */
export class RowPlanner {
  private readonly ctx: Ctx;
  private readonly scratch: RepairPlan;
  private rolesFor: boolean[] = [];
  private r = roles({ kind: 'ring' }, 0, []);

  constructor(
    private readonly l: Listings,
    private readonly o: ReconcileOptions,
  ) {
    this.scratch = { hosts: l.hosts.map((host) => ({ host, actions: [], counts: emptyCounts() })), compared: 0, differing: 0, deletes: 0, conflicts: 0, keptOnTargets: 0, unsupported: [], unsupportedCount: 0 };
    this.ctx = new Ctx(l, this.scratch, o.conflicts === 'keep' && o.mode.kind === 'ring', true);
  }

  /** the actions for row r and whether what is under it is decided too; live: hosts taking part now */
  row(r: number, live: readonly boolean[]): { dir: boolean; actions: { host: number; action: RepairAction }[] } | null {
    // (called for every listed path: nothing is allocated for one that is the same everywhere)
    if (!sameFlags(live, this.rolesFor)) {
      this.r = roles(this.o.mode, this.l.hosts.length, live);
      this.rolesFor = [...live];
    }
    const { sources, targets, involved } = this.r;
    if (sources.length === 0 || targets.length === 0) return NOTHING;
    let same = true;
    for (let i = 1; i < involved.length && same; i++) same = this.l.same(r, involved[0]!, involved[i]!);
    const t = this.l.typeCode(involved[0]!, r);
    if (same && t !== T_NONE) return t === T_DIR ? SAME_DIR : NOTHING;
    const lens = this.scratch.hosts.map((hp) => hp.actions.length);
    try {
      const dir = this.o.mode.kind === 'ring' ? this.ctx.ringRow(r, involved) : this.ctx.sourceRow(r, sources[0]!, targets, this.o.delete);
      const actions: { host: number; action: RepairAction }[] = [];
      this.scratch.hosts.forEach((hp, h) => {
        for (let i = lens[h]!; i < hp.actions.length; i++) actions.push({ host: h, action: hp.actions[i]! });
      });
      return { dir, actions };
    } catch (err) {
      if (err === NEEDS_TREE) return null;
      throw err;
    } finally {
      this.scratch.hosts.forEach((hp, h) => (hp.actions.length = lens[h]!));
    }
  }
}

/** RowPlanner.row's answers with no action (shared: nobody changes them) */
const NOTHING: { dir: boolean; actions: { host: number; action: RepairAction }[] } = Object.freeze({ dir: false, actions: Object.freeze([]) as unknown as [] });
const SAME_DIR: typeof NOTHING = Object.freeze({ dir: true, actions: Object.freeze([]) as unknown as [] });

function sameFlags(a: readonly boolean[], b: readonly boolean[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const TYPE_RANK = [0, 2, 3, 1, 0]; // by type code: none, file, dir, symlink, other
/** thrown (partial mode) where a decision needs a whole subtree */
const NEEDS_TREE = Symbol('needs the whole tree');

/** The mutable state of one reconcile run, and the per-row decisions. */
class Ctx {
  touched = 0;
  private sub?: Float64Array[];
  private counts?: Int32Array[];
  // per host: rows that host keeps as an unsupported entry; nothing can be created under them
  private readonly blocked: Set<number>[];

  constructor(
    private readonly l: Listings,
    private readonly plan: RepairPlan,
    private readonly keep: boolean,
    /** the trees are not all listed yet: a decision that needs a whole subtree throws NEEDS_TREE */
    private readonly partial = false,
  ) {
    this.blocked = l.hosts.map(() => new Set<number>());
  }

  /** whole ring: the best version wins; returns whether the path ends up a directory */
  ringRow(r: number, hosts: number[]): boolean {
    const l = this.l;
    let win = -1;
    for (const h of hosts) {
      const t = l.typeCode(h, r);
      if (t === T_NONE || t === T_OTHER) continue;
      if (win === -1 || this.better(r, h, win) > 0) win = h;
    }
    if (win === -1) {
      for (const h of hosts) if (l.typeCode(h, r) === T_OTHER) this.unsupported(h, r);
      return false;
    }
    const w = l.get(win, r)!;
    const from = this.holders(r, w, hosts);
    const losers = this.keep ? this.losers(r, w, hosts) : [];
    const keeping = new Set(losers.flatMap((v) => v.hosts));
    for (const h of hosts) {
      const cur = l.get(h, r);
      if (this.skipBlocked(h, r, cur) || keeping.has(h)) continue;
      this.change(h, r, cur, w, from);
    }
    for (const v of losers) {
      const to = this.freeName(l.path(r), l.hosts[v.hosts[0]!]!, v.entry.mtime);
      this.plan.conflicts++;
      for (const h of v.hosts) {
        this.add(h, { op: 'keep', path: l.path(r), to, expect: v.entry });
        this.change(h, r, null, w, from);
      }
      for (const h of hosts) {
        if (v.hosts.includes(h) || this.isBlocked(h, r)) continue;
        this.add(h, { op: 'copy', path: to, entry: v.entry, from: v.hosts, expect: null });
      }
    }
    return w.type === 'dir';
  }

  /**
   * The losing file versions at r worth a conflict copy, one per distinct version (with the hosts
   * holding it). Repair has no history to tell a concurrent edit from a host that was merely behind,
   * so when every host holds some version, the oldest is taken for what they all had before (it is
   * replaced, not kept: a host that missed one edit must not fill the ring with copies); every other
   * losing version is kept.
   */
  private losers(r: number, w: Entry, hosts: number[]): { entry: Entry; hosts: number[] }[] {
    const byVersion = new Map<string, { entry: Entry; hosts: number[] }>();
    let everywhere = true;
    for (const h of hosts) {
      const cur = this.l.get(h, r);
      if (!cur) everywhere = false;
      if (cur?.type !== 'file' || this.isBlocked(h, r) || (w.type === 'file' && sameContent(cur, w))) continue;
      const key = `${cur.size}:${cur.mtime}`;
      (byVersion.get(key) ?? byVersion.set(key, { entry: cur, hosts: [] }).get(key)!).hosts.push(h);
    }
    const out = [...byVersion.values()].sort((a, b) => compareVersions(a.entry, b.entry));
    return everywhere ? out.slice(1) : out;
  }

  /** --from / --link: the source's version wins on the targets; returns whether the path stays a directory */
  sourceRow(r: number, src: number, targets: number[], del: boolean): boolean {
    const l = this.l;
    const w = l.get(src, r);
    if (!w) {
      let kept = false;
      for (const h of targets) {
        const cur = l.get(h, r);
        if (!cur || this.skipBlocked(h, r, cur)) continue;
        if (del) this.add(h, { op: 'remove', path: l.path(r), expect: cur, gone: 1 + this.descendants(h, r, cur) });
        else kept = true;
      }
      if (kept) this.plan.keptOnTargets++;
      // without --delete, what is under a kept directory is left alone too (the source lacks all of it)
      return !del && kept;
    }
    if (w.type === 'other') {
      this.unsupported(src, r);
      return false;
    }
    const from = this.holders(r, w, [src, ...targets]);
    for (const h of targets) {
      const cur = l.get(h, r);
      if (this.skipBlocked(h, r, cur)) continue;
      this.change(h, r, cur, w, from);
    }
    return w.type === 'dir';
  }

  /** the action that turns cur (on h) into w, if any */
  private change(h: number, r: number, cur: Entry | null, w: Entry, from: number[]): void {
    const path = this.l.path(r);
    const gone = cur?.type === 'dir' && w.type !== 'dir' ? this.descendants(h, r, cur) : 0;
    if (cur && cur.type === w.type) {
      switch (w.type) {
        case 'dir':
          if (cur.mode !== w.mode) this.add(h, { op: 'setattr', path, entry: w, expect: cur });
          return;
        case 'symlink':
          if (cur.target !== w.target) this.add(h, { op: 'symlink', path, entry: w, expect: cur });
          return;
        case 'file':
          if (sameContent(cur, w)) {
            if (cur.mode !== w.mode) this.add(h, { op: 'setattr', path, entry: w, expect: cur });
            return;
          }
      }
    }
    if (w.type === 'dir') this.add(h, { op: 'mkdir', path, entry: w, expect: cur });
    else if (w.type === 'symlink') this.add(h, { op: 'symlink', path, entry: w, expect: cur, ...(gone ? { gone } : {}) });
    else this.add(h, { op: 'copy', path, entry: w, from: rotate(from.filter((x) => x !== h), r), expect: cur, ...(gone ? { gone } : {}) });
  }

  private add(h: number, a: RepairAction): void {
    const hp = this.plan.hosts[h]!;
    hp.actions.push(a);
    this.touched++;
    const c = hp.counts;
    switch (a.op) {
      case 'copy':
        c.copy++;
        c.bytes += a.entry.size;
        c.remove += a.gone ?? 0;
        break;
      case 'mkdir':
        c.mkdir++;
        break;
      case 'symlink':
        c.symlink++;
        c.remove += a.gone ?? 0;
        break;
      case 'setattr':
        c.setattr++;
        break;
      case 'remove':
        c.remove += a.gone;
        break;
      case 'keep':
        c.keep++;
        break;
    }
  }

  /** >0 when host a's version at r beats host b's */
  private better(r: number, a: number, b: number): number {
    const l = this.l;
    const ta = l.typeCode(a, r);
    const tb = l.typeCode(b, r);
    if (l.same(r, a, b)) return 0; // the same version: nothing to decide (and no subtree to look at)
    const d = this.time(a, r, ta) - this.time(b, r, tb) || TYPE_RANK[ta]! - TYPE_RANK[tb]!;
    if (d !== 0 || ta !== tb) return d;
    const x = l.get(a, r)!;
    const y = l.get(b, r)!;
    if (ta === T_FILE) return x.size - y.size || x.mode - y.mode;
    if (ta === T_LINK) return (x.target ?? '') > (y.target ?? '') ? 1 : (x.target ?? '') < (y.target ?? '') ? -1 : 0;
    return x.mode - y.mode;
  }

  /** when host h's version at r last changed: a directory's newest mtime in its subtree */
  private time(h: number, r: number, t: number): number {
    const own = this.l.mtime(h, r);
    if (t !== T_DIR) return own;
    if (this.partial) throw NEEDS_TREE;
    this.sub ??= subtreeTimes(this.l);
    return Math.max(own, this.sub[h]![r]!);
  }

  /** entries under a directory on h (they go when it is removed or replaced) */
  private descendants(h: number, r: number, cur: Entry): number {
    if (cur.type !== 'dir') return 0;
    if (this.partial) throw NEEDS_TREE;
    this.counts ??= subtreeCounts(this.l);
    return this.counts[h]![r]!;
  }

  /** hosts holding exactly w's content at r (copy sources) */
  private holders(r: number, w: Entry, hosts: number[]): number[] {
    if (w.type !== 'file') return [];
    return hosts.filter((h) => {
      const e = this.l.typeCode(h, r) === T_FILE ? this.l.get(h, r)! : null;
      return !!e && sameContent(e, w);
    });
  }

  private skipBlocked(h: number, r: number, cur: Entry | null): boolean {
    if (this.isBlocked(h, r)) return true;
    if (cur?.type === 'other') {
      this.unsupported(h, r);
      this.blocked[h]!.add(r);
      return true;
    }
    return false;
  }

  private isBlocked(h: number, r: number): boolean {
    const b = this.blocked[h]!;
    if (b.size === 0) return false;
    const p = this.l.parent(r);
    if (p >= 0 && b.has(p)) {
      b.add(r);
      return true;
    }
    return b.has(r);
  }

  private unsupported(h: number, r: number): void {
    this.plan.unsupportedCount++;
    if (this.plan.unsupported.length < 100) this.plan.unsupported.push({ host: this.l.hosts[h]!, path: this.l.path(r) });
  }

  private readonly taken = new Set<string>();
  /** a conflict name nobody holds yet */
  private freeName(path: string, host: string, mtime: number): string {
    let out = conflictName(path, host, mtime);
    for (let i = 2; this.l.row(out) !== undefined || this.taken.has(out); i++) out = conflictName(path, host, mtime, i);
    this.taken.add(out);
    return out;
  }
}

/** per host, the newest mtime below each directory (one pass, children before parents) */
function subtreeTimes(l: Listings): Float64Array[] {
  const sub = l.hosts.map(() => new Float64Array(l.rows).fill(-Infinity));
  for (let r = l.rows - 1; r >= 0; r--) {
    const p = l.parent(r);
    if (p < 0) continue;
    for (let h = 0; h < l.hosts.length; h++) {
      if (l.typeCode(h, r) === T_NONE || l.typeCode(h, p) !== T_DIR) continue;
      const s = sub[h]!;
      s[p] = Math.max(s[p]!, s[r]!, l.mtime(h, r));
    }
  }
  return sub;
}

/** per host, how many entries lie below each directory */
function subtreeCounts(l: Listings): Int32Array[] {
  const cnt = l.hosts.map(() => new Int32Array(l.rows));
  for (let r = l.rows - 1; r >= 0; r--) {
    const p = l.parent(r);
    if (p < 0) continue;
    for (let h = 0; h < l.hosts.length; h++) {
      if (l.typeCode(h, r) === T_NONE || l.typeCode(h, p) !== T_DIR) continue;
      cnt[h]![p]! += 1 + cnt[h]![r]!;
    }
  }
  return cnt;
}

/** spread reads over the hosts that hold a version */
function rotate(xs: number[], by: number): number[] {
  if (xs.length < 2) return xs;
  const k = by % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}

function rootMissing(l: Listings, h: number): SafetyStop {
  const host = l.hosts[h]!;
  return {
    reason: 'root-missing',
    host,
    message: `the root of ${host} does not exist; nothing was changed`,
    hint: `chain never creates a root (an unmounted disk must not be filled): mount or create it on ${host}, then run chain repair again`,
  };
}

function emptyRoot(l: Listings, o: ReconcileOptions, sources: number[], involved: number[]): SafetyStop | undefined {
  const full = involved.filter((h) => l.count(h) > 0);
  const empty = involved.filter((h) => l.count(h) === 0);
  if (full.length === 0 || empty.length === 0) return undefined;
  const names = (hs: number[]) => hs.map((h) => l.hosts[h]).join(', ');
  const entries = Math.max(...full.map((h) => l.count(h)));
  if (o.mode.kind === 'ring') {
    const host = l.hosts[empty[0]!]!;
    return {
      reason: 'root-empty',
      host,
      message: `the root of ${names(empty)} is empty while ${names(full)} hold${full.length === 1 ? 's' : ''} up to ${entries} entries; chain does not take that as "everything was deleted", and stopped without changing anything`,
      hint: `if ${host} was wiped or is new, restore it from a good host: chain repair --from ${l.hosts[full[0]!]}; if a disk is not mounted there, mount it first`,
    };
  }
  const src = sources[0]!;
  if (o.delete && empty.includes(src)) {
    const host = l.hosts[src]!;
    return {
      reason: 'source-empty',
      host,
      message: `the root of ${host}, the source, is empty: with --delete this would remove everything on ${names(full)}; stopped without changing anything`,
      hint: `if ${host} really should be empty everywhere, remove the files by hand; otherwise restore ${host} first (chain repair --from ${l.hosts[full[0]!]})`,
    };
  }
  return undefined;
}
