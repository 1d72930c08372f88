// Pushes one batch of paths over one link: read the current local state of each path, compare it
// with the target (compare-before-copy), pair moves, then change the target — structure first
// (removes, type changes, directories), then content, many operations in flight.
// Returns what changed on the target (for the successor's inbox), what to retry, and what failed.
//
// Before anything on the target is replaced or removed, it is checked to be still what was planned
// (else the path is planned again), and the old version is kept: in the trash, or beside it as a
// conflict copy (engine/trash.ts).
//
// Convergence around the ring (core/conflict.ts decides each link; these make the ring settle):
//   - a change made here travels the whole ring: it is sent on from host to host (`hops` in the
//     inbox manifest) even through hosts that have it already, or lack it already for a delete,
//     so a host further on that holds an older version is never skipped;
//   - when the target's version wins, the target is told so (a notice in its inbox) and sends its
//     version on, so the winner reaches every host, us included, even if it had left the target
//     before and lost a race further on;
//   - the last hop of a change does not compare it with the host it set out from (its origin, in
//     the manifest) while this host still holds exactly the version that arrived: see skipBack.
import type { Action, Entry, PendingChange } from '../core/types.js';
import type { PutOptions, Remote } from '../transport/remote.js';
import type { ExcludeFn } from '../core/exclude.js';
import type { Logger } from '../core/log.js';
import { planPath } from '../core/plan.js';
import { sameEntry } from '../core/entry.js';
import { conflictAlternatives } from '../core/conflict.js';
import { trashCandidates } from '../core/trash.js';
import { TRASH_DIR } from '../core/names.js';
import { pairMoves } from '../core/moves.js';
import { classify } from '../core/classify.js';
import { joinRel, parentOf, underRoot } from '../core/paths.js';
import { LinkMemory } from './memory.js';
import { forEachLimit, Once } from './parallel.js';
import { syncTree, sendEntry, dirChangedSince } from './treesync.js';
import { sendManifest } from './inbox.js';
import { keepAside, type KeepHow } from './trash.js';

export interface PushStats {
  files: number;
  bytes: number;
  dirs: number;
  links: number;
  renamed: number;
  removed: number;
  attrs: number;
  skipped: number;
}

export const emptyStats = (): PushStats => ({ files: 0, bytes: 0, dirs: 0, links: 0, renamed: 0, removed: 0, attrs: 0, skipped: 0 });

export interface Change {
  path: string;
  kind: 'change' | 'delete';
  at: number;
  /** how many more hosts after the target it must visit even where nothing differs */
  hops?: number;
  /** what is on the target now (null: nothing), so it can tell this change from one of its own */
  entry?: Entry | null;
  /** a host that held exactly `entry` when this change set out, and whose later changes of the path
   *  travel the ring on their own (see skipBack); none: unknown */
  origin?: string;
}

/** The target is no longer what the plan saw: the path is planned again (a change made there meanwhile is not lost). */
export class TargetChangedError extends Error {
  constructor(readonly path: string) {
    super(`${path} changed on the target while it was being replaced`);
    this.name = 'TargetChangedError';
  }
}

export interface PushResult {
  stats: PushStats;
  /** what is now different on the target: the successor forwards these at once */
  changed: Change[];
  /** to push again: the file changed while sent, or the link broke before it was done */
  retry: PendingChange[];
  /** paths that failed on their own (permission denied, ...) */
  failed: { path: string; error: Error }[];
  /** the link broke (classified "again") or cannot work ("die"): the batch stopped */
  linkError?: { error: Error; verdict: 'again' | 'die' };
}

export interface PushContext {
  /** announces changes that landed on the target to it (its inbox), while work is still going */
  stream?: (changes: Change[]) => Promise<void>;
  /** this host's own root, read side */
  source: Remote;
  target: Remote;
  exclude: ExcludeFn;
  deleteEnabled: boolean;
  memory: LinkMemory;
  log: Logger;
  /** `conflicts: keep`: a losing version is kept beside it as NAME.chain-conflict-HOST-TIME.EXT */
  conflicts?: 'newer' | 'keep';
  /** keep what is replaced or removed on the target under its .chain/trash (`trash:` not false) */
  trash?: boolean;
  /** hosts in the ring: a change made here is carried to all of them (default 2) */
  ringSize?: number;
  /** what the predecessor said of a path still waiting in this link's queue (its inbox manifest):
   *  a tree sync that sends such a path before its turn passes the origin on (see note()) */
  arrivedOf?: (path: string) => PendingChange['arrived'] | undefined;
  /** a whole tree to send on from inside a hold of our predecessor's (it is still writing there):
   *  true = leave it for now, it is compared once the hold ends (engine/holds.ts) */
  deferTree?: (path: string) => boolean;
  /** called once, before the first change a batch makes on the target (a hold: engine/holds.ts) */
  beforeWrite?: () => void;
  /** paths in flight at once (each is several pipelined SFTP requests) */
  concurrency?: number;
  onProgress?: (stats: PushStats) => void;
}

/** Executes actions against the target, keeping stats, memory and the change list. Shared by batch pushes and tree syncs. */
export class Applier {
  readonly stats = emptyStats();
  readonly changed: Change[] = [];
  readonly retry: PendingChange[] = [];
  readonly failed: { path: string; error: Error }[] = [];
  linkError?: { error: Error; verdict: 'again' | 'die' };
  /** per path of a batch: how far its change travels and when it happened, for the manifest */
  readonly carry = new Map<string, { hops: number; at: number }>();
  /** per path of a batch: where the version it holds set out from (see Change.origin) */
  readonly origins = new Map<string, { origin?: string; entry: Entry | null }>();
  private readonly dirs = new Once<string>();
  /** directories whose entries this batch compared already: true = all the way down. A tree sync
   *  of the batch does not compare one again (a rescan of the root and the batch's own new
   *  directories reach the same ones; one planned as new on the target would be sent twice). */
  readonly compared = new Map<string, boolean>();

  /** true when dir still needs comparing (deep: all the way down), and notes that it is being compared */
  toCompare(dir: string, deep: boolean): boolean {
    const seen = this.compared.get(dir);
    if (seen === true || (seen === false && !deep)) return false;
    this.compared.set(dir, deep);
    return true;
  }
  private trashDir?: Promise<void>;

  constructor(readonly ctx: PushContext) {}

  get broken(): boolean {
    return this.linkError !== undefined;
  }

  ensureDir(dir: string): Promise<void> {
    if (dir === '') return Promise.resolve();
    return this.dirs.run(dir, () => this.ctx.target.mkdirp(dir));
  }

  /** Runs fn for one path; sorts its failure into retry / failed / link error. */
  async guard(path: string, onRetry: PendingChange, fn: () => Promise<void>): Promise<void> {
    if (this.broken) {
      this.retry.push(onRetry);
      return;
    }
    try {
      await fn();
    } catch (err) {
      const error = err as Error;
      if (error.name === 'SourceChangedError' || error.name === 'TargetChangedError') {
        this.retry.push(onRetry);
        return;
      }
      const verdict = classify(err);
      if (verdict === 'path') {
        this.failed.push({ path, error });
        // the hint says what to do ("the disk may be full", "check the owner and mode")
        const hint = (error as { hint?: string }).hint;
        this.ctx.log.warn(`could not push ${path} to ${this.ctx.target.name}: ${error.message}${hint ? ` (${hint})` : ''}`, { path, host: this.ctx.target.name });
      } else {
        this.linkError ??= { error, verdict };
        this.retry.push(onRetry);
      }
    }
  }

  /** origin: where this version set out from; by default the batch's word for it when the entry is
   *  the one the batch saw, else this host (it just read the entry from its own root); null: unknown */
  note(path: string, kind: Change['kind'], entry: Entry | null, origin: string | null = this.originOf(path, entry)): void {
    const c = this.carry.get(path);
    const change: Change = { path, kind, at: c?.at ?? Date.now(), hops: c?.hops ?? 0, entry };
    if (origin !== null) change.origin = origin;
    this.changed.push(change);
    this.ctx.onProgress?.(this.stats);
    this.maybeStream();
  }

  private originOf(path: string, entry: Entry | null): string | null {
    const o = this.origins.get(path);
    if (o) return sameState(o.entry, entry) ? (o.origin ?? null) : this.ctx.source.name;
    // a path no change of this batch names (inside a tree sync): if its arrival still waits in the
    // queue and this is the version that arrived, it set out from the same host as the arrival says
    const a = this.ctx.arrivedOf?.(path);
    if (a && a.entry !== undefined && sameState(a.entry, entry)) return a.origin ?? null;
    return this.ctx.source.name;
  }

  private streamed = 0;
  private lastStream = Date.now();
  private streaming: Promise<void> = Promise.resolve();

  /**
   * Announce what already landed to the successor while a large batch or tree sync is still going
   * (every 500 changes or 250 ms), so the next hop forwards a burst while it is still arriving.
   */
  private maybeStream(): void {
    if (!this.ctx.stream || this.broken) return;
    if (this.changed.length - this.streamed < 500 && Date.now() - this.lastStream < 250) return;
    const chunk = this.changed.slice(this.streamed);
    this.streamed = this.changed.length;
    this.lastStream = Date.now();
    const send = this.ctx.stream;
    this.streaming = this.streaming.then(() => send(chunk)).catch((e) => this.ctx.log.debug(`inbox manifest not written: ${(e as Error).message}`));
  }

  /** waits for manifests under way; returns the changes not announced yet */
  async unannounced(): Promise<Change[]> {
    await this.streaming;
    return this.changed.slice(this.streamed);
  }

  private writing = false;

  /** the first change this batch makes on the target is about to go (ctx.beforeWrite, once) */
  private willWrite(): void {
    if (this.writing) return;
    this.writing = true;
    this.ctx.beforeWrite?.();
  }

  /** Structural step of an action (removal of what is in the way, directories). */
  async structure(a: Action): Promise<void> {
    this.willWrite();
    const { target, memory } = this.ctx;
    if (a.op === 'remove') {
      await this.expect(a.path, a.remote);
      await this.takeAway(a.path, a.keepAs);
      memory.removedTree(a.path);
      this.stats.removed++;
      this.note(a.path, 'delete', null);
      return;
    }
    if ((a.op === 'put' || a.op === 'mkdir' || a.op === 'symlink') && a.replace) {
      await this.takeAway(a.path);
      memory.forgetTree(a.path);
    }
    if (a.op === 'mkdir') {
      await this.ensureDir(parentOf(a.path));
      await target.mkdirp(a.path, a.local.mode);
      await target.setattr(a.path, { mode: a.local.mode });
      memory.set(a.path, a.local);
      this.stats.dirs++;
      this.note(a.path, 'change', a.local);
    }
  }

  /** Content step of an action (files, links, renames, attributes). `before` is what the plan saw
   *  on the target, when known: a put checks it is still there, and keeps it, before replacing it. */
  async content(a: Action, before?: Entry | null): Promise<void> {
    if (a.op === 'put' || a.op === 'symlink' || a.op === 'rename' || a.op === 'setattr') this.willWrite();
    const { target, source, memory } = this.ctx;
    switch (a.op) {
      case 'put': {
        await this.ensureDir(parentOf(a.path));
        const opts: PutOptions = { mode: a.local.mode, mtime: a.local.mtime };
        const was = a.replace ? null : before; // what was in the way is gone (structure)
        if (was) opts.beforeReplace = () => this.beforeReplace(a.path, was, a.keepAs);
        await target.put(a.path, { localPath: underRoot(source.root, a.path), expect: a.local }, opts);
        this.stats.files++;
        this.stats.bytes += a.local.size;
        break;
      }
      case 'symlink':
        await this.ensureDir(parentOf(a.path));
        if (!a.replace && before?.type === 'file' && this.ctx.trash) await this.toTrash(a.path, 'move');
        await target.symlink(a.path, a.local.target!);
        this.stats.links++;
        break;
      case 'rename':
        await this.ensureDir(parentOf(a.path));
        await target.rename(a.from, a.path);
        memory.removedTree(a.from);
        this.stats.renamed++;
        this.note(a.from, 'delete', null);
        break;
      case 'setattr':
        await target.setattr(a.path, a.local.type === 'dir' ? { mode: a.local.mode } : { mode: a.local.mode, mtime: a.local.mtime });
        this.stats.attrs++;
        break;
      default:
        return;
    }
    memory.set(a.path, a.local);
    this.note(a.path, 'change', a.local);
  }

  /** throws TargetChangedError unless the target still holds what the plan saw (files: the same version) */
  private async expect(path: string, planned: Entry): Promise<void> {
    const now = await this.ctx.target.lstat(path);
    if (!now || now.type !== planned.type || (planned.type === 'file' && !sameEntry(now, planned))) throw new TargetChangedError(path);
  }

  /** right before a put's rename: the target must still be what was planned; keep that version */
  private async beforeReplace(path: string, was: Entry, keepAs?: string): Promise<void> {
    const now = await this.ctx.target.lstat(path);
    if (!now || !sameEntry(now, was)) throw new TargetChangedError(path);
    if (now.type !== 'file') return;
    if (keepAs && (await this.keepConflict(path, keepAs, 'link', now))) return;
    if (this.ctx.trash) await this.toTrash(path, 'link');
  }

  /** remove what is at path: as a conflict copy, into the trash, or (trash off) for good */
  private async takeAway(path: string, keepAs?: string): Promise<void> {
    if (keepAs && (await this.keepConflict(path, keepAs, 'move', null))) return;
    if (this.ctx.trash && (await this.toTrash(path, 'move'))) return;
    await this.ctx.target.remove(path);
  }

  private async keepConflict(path: string, keepAs: string, how: KeepHow, entry: Entry | null): Promise<boolean> {
    const name = await keepAside(this.ctx.target, path, conflictAlternatives(keepAs), how);
    if (!name) return false;
    this.ctx.log.info(`conflict on ${path}: ${this.ctx.target.name}'s version kept as ${name}`, { path, host: this.ctx.target.name, keptAs: name });
    // the copy exists only on the target: no host it could skip on the way back
    this.note(name, 'change', entry ?? (await this.ctx.target.lstat(name)), null);
    return true;
  }

  private async toTrash(path: string, how: KeepHow): Promise<boolean> {
    const { target } = this.ctx;
    let name: string | null = null;
    try {
      await (this.trashDir ??= target.mkdirp(TRASH_DIR, 0o700).catch((err) => {
        this.trashDir = undefined;
        throw err;
      }));
      name = await keepAside(target, path, trashCandidates(path, Date.now()), how);
    } catch (err) {
      if (classify(err) !== 'path') throw err; // the link broke: the batch stops, the path is retried
    }
    // a safety net, not worth failing the push for: say so and go on
    if (!name) this.ctx.log.warn(`could not keep ${path} in ${TRASH_DIR} on ${target.name}; ${how === 'link' ? 'replacing' : 'removing'} it anyway`, { path, host: target.name });
    return name !== null;
  }

  /** `changed` holds only what was not announced to the successor yet (see stream) */
  async result(): Promise<PushResult> {
    const changed = await this.unannounced();
    return { stats: this.stats, changed, retry: this.retry, failed: this.failed, linkError: this.linkError };
  }
}

interface Planned {
  change: PendingChange;
  local: Entry | null;
  remote: Entry | null;
  action: Action;
  /** how many more hosts after the target this change must visit (<0: only where it changes something) */
  hops: number;
  /** where the local version set out from (this host for a change made here; undefined: unknown) */
  origin?: string;
  /** a directory the target is known to hold as it is here (it came back to its origin unchanged,
   *  or this link made or found it there): not looked at there, its entries checked locally */
  knownThere?: true;
}

/** Push one batch of changed paths. Never throws for transport trouble: see PushResult. */
export async function pushBatch(ctx: PushContext, batch: PendingChange[]): Promise<PushResult> {
  const ap = new Applier(ctx);
  const conc = ctx.concurrency ?? 128;
  const changes = batch.filter((c) => !ctx.exclude(c.path)).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  ap.stats.skipped += batch.length - changes.length;

  // 1. look: local and remote state of every path, in parallel
  const planned: Planned[] = [];
  const toLook: { change: PendingChange; local: Entry | null; last: Entry | null | undefined }[] = [];
  await forEachLimit(changes, conc, (change) =>
    ap.guard(change.path, change, async () => {
      const local = await ctx.source.lstat(change.path);
      if (skipBack(change, local, ctx.target.name, ctx.memory.get(change.path)) && !(local?.type === 'dir' && change.tree)) {
        // the target is where this version came from and nothing changed here since it arrived
        // (the argument is at skipBack): delivered, and remembered as what the target holds, so the
        // echo of the write our predecessor made here needs no look either
        ctx.memory.set(change.path, local);
        if (local?.type !== 'dir') ap.stats.skipped++;
        // a directory still gets its entries checked (files whose events were lost here), but
        // against what this link knows the target holds, not by listing the target
        if (local?.type === 'dir') planned.push({ change, local, remote: local, action: { op: 'skip', path: change.path, reason: 'equal' }, hops: -1, knownThere: true });
        return;
      }
      const last = ctx.memory.get(change.path);
      // (the root is always there, and its mode is never sent: known there too)
      if (!change.arrived && !change.deep && local?.type === 'dir' && ((last && sameEntry(local, last)) || change.path === '')) {
        // a directory the target holds as it is here (this link made or found it there): its
        // entries are checked against what the link knows the target holds, not by listing it.
        // The directory itself is not news: when this link put it there or found it there, it
        // went on from there as far as it had to. Announcing it again as a change of this host
        // (an echo of our predecessor's mkdir, seen by our watcher) would make every host after
        // the target compare the whole directory once more (bench: each relayed burst went round
        // again as whole-tree compares). Entries sent from it are announced on their own.
        planned.push({ change, local, remote: local, action: { op: 'skip', path: change.path, reason: 'equal' }, hops: -1, origin: ctx.source.name, knownThere: true });
        return;
      }
      if (!change.arrived && ((local && last && local.type !== 'dir' && sameEntry(local, last)) || (!local && last === null))) {
        // nothing new here since this link last pushed it (an echo of a write our predecessor made):
        // the target has it, or changed it itself and sends that on
        ap.stats.skipped++;
        return;
      }
      toLook.push({ change, local, last });
    }),
  );
  if (ap.broken) return ap.result();
  // the target's side of every path still in question, asked at once: a directory holding many of
  // them is listed once rather than asked path by path (a burst puts hundreds in each directory)
  const looked = await lookMany(ctx.target, toLook.map((t) => t.change.path));
  await forEachLimit(toLook, conc, ({ change, local, last }) =>
    ap.guard(change.path, change, async () => {
      const remote = looked.has(change.path) ? looked.get(change.path)! : await ctx.target.lstat(change.path);
      const action = planPath({
        path: change.path,
        local,
        remote,
        lastPushed: last ?? null,
        deletedAt: local ? undefined : change.kind === 'delete' ? change.at : Date.now(),
        deleteEnabled: ctx.deleteEnabled,
        live: true,
        keep: ctx.conflicts === 'keep' ? { host: ctx.target.name } : undefined,
      });
      // what arrived from the predecessor and is still here travels on as far as it was sent;
      // anything else is a change made here: it visits the whole ring
      const a = change.arrived;
      const still = !!a && a.entry !== undefined && sameState(a.entry, local);
      const hops = still ? a.hops - 1 : (ctx.ringSize ?? 2) - 2;
      const origin = still ? a.origin : ctx.source.name;
      ap.origins.set(change.path, { origin, entry: local });
      // the root itself is never removed, replaced or re-moded by a batch; it can only be rescanned
      if (change.path === '' && action.op !== 'skip') planned.push({ change, local, remote, action: { op: 'skip', path: '', reason: 'equal' }, hops: -1 });
      else planned.push({ change, local, remote, action, hops, origin });
    }),
  );
  if (ap.broken) return ap.result();

  // 2. moves: a removed file and a new file with the same signature become one remote rename
  const gone = planned.filter((p) => p.action.op === 'remove' && p.action.remote.type === 'file').map((p) => ({ path: p.change.path, entry: (p.action as { remote: Entry }).remote }));
  const born = planned.filter((p) => p.action.op === 'put' && !p.remote && p.local).map((p) => ({ path: p.change.path, entry: p.local! }));
  const moves = gone.length && born.length ? pairMoves(gone, born) : [];
  if (moves.length) {
    const from = new Map(moves.map((m) => [m.to, m.from]));
    const moved = new Set(moves.map((m) => m.from));
    for (const p of planned) {
      const src = from.get(p.change.path);
      if (src !== undefined && p.local) p.action = { op: 'rename', from: src, path: p.change.path, local: p.local };
      else if (moved.has(p.change.path)) {
        p.action = { op: 'skip', path: p.change.path, reason: 'equal' };
        p.hops = -1; // its delete goes with the rename
      }
    }
  }

  await pairDirMoves(ctx, planned);

  // 3. new, replaced or moved directories are synced as whole trees; paths inside them are covered by that
  // (the watcher reports only the top of a new directory: what was written into it before it was
  // watched has no event of its own)
  // A directory's own event is always a creation (the watcher reports no updates of directories),
  // and files written into it before the watcher watched it have no events: so every directory in
  // a batch gets its entries compared, even when the target already has it (bench: 10,000-file
  // bursts of cp -a lost files in new leaf directories without this).
  const isDeep = (p: Planned) => p.action.op === 'mkdir' || p.action.op === 'rename' || !!p.change.deep;
  const trees = planned.filter((p) => p.local?.type === 'dir' && (isDeep(p) || p.change.tree || p.change.kind === 'change'));
  // A new tree here that our predecessor is still writing into: sending it on now would send what
  // it wrote before the manifests naming it came, as if made here; those come as arrivals anyway,
  // and the tree is compared once the predecessor's hold ends (engine/holds.ts).
  const later = new Set(trees.filter((p) => !p.knownThere && isDeep(p) && ctx.deferTree?.(p.change.path)).map((p) => p.change.path));
  // (a directory checked locally covers nothing: paths of the batch under it go their own way)
  const treeOf = new Map(trees.filter((p) => !p.knownThere && !later.has(p.change.path)).map((p) => [p.change.path, isDeep(p)]));
  /** covered by a tree sync of an ancestor: a deep one covers everything below, a shallow one its entries */
  const insideTree = (path: string) => {
    if (path === '') return false;
    const parent = parentOf(path);
    for (let d = parent; ; d = parentOf(d)) {
      const deep = treeOf.get(d);
      if (deep === true || (deep === false && d === parent)) return true;
      if (d === '') return false;
    }
  };
  // deletes stay: a tree sync only adds and updates
  const work = planned.filter((p) => !p.local || !insideTree(p.change.path));
  const forward: Change[] = [];
  for (const p of work) {
    ap.carry.set(p.change.path, { hops: Math.max(0, p.hops), at: p.change.at });
    if (p.action.op !== 'skip') continue;
    ap.stats.skipped++;
    const { reason } = p.action;
    if (reason === 'equal' || reason === 'absent') {
      ctx.memory.set(p.change.path, p.local);
      // the target has it already; hosts further on may not
      if (p.hops >= 0) forward.push({ path: p.change.path, kind: p.local ? 'change' : 'delete', at: p.change.at, hops: p.hops, entry: p.local, ...(p.origin !== undefined && { origin: p.origin }) });
    } else if (reason === 'remote-newer' || reason === 'remote-changed') {
      // the target's version wins: it must reach every host, us too, whatever happened to it on the
      // way; it sets out from the target, which holds it (we just looked)
      forward.push({ path: p.change.path, kind: p.remote ? 'change' : 'delete', at: Date.now(), hops: (ctx.ringSize ?? 2) - 2, entry: p.remote, origin: ctx.target.name });
    }
  }

  // 4. structure (removes, replacements, directories) outermost first, then content in parallel
  const structural = work.filter((p) => p.action.op === 'remove' || p.action.op === 'mkdir' || ('replace' in p.action && p.action.replace));
  for (const depthGroup of byDepth(structural)) {
    await forEachLimit(depthGroup, conc, (p) => ap.guard(p.change.path, p.change, () => ap.structure(p.action)));
  }
  await forEachLimit(
    work.filter((p) => p.action.op !== 'skip' && p.action.op !== 'remove' && p.action.op !== 'mkdir'),
    conc,
    (p) => ap.guard(p.change.path, p.change, () => ap.content(p.action, p.remote)),
  );
  // 5. inside new directories: compare and send the whole subtree. Full rescans first: a directory
  // compared once in a batch is not compared again, and a shallower look must not take its place
  // (a settled burst's look at the root goes into the burst's new top directory too).
  const fullFirst = trees.some((p) => p.change.full) ? [...trees].sort((a, b) => Number(!!b.change.full) - Number(!!a.change.full)) : trees;
  for (const p of fullFirst) {
    if (ap.broken) break;
    if (insideTree(p.change.path) || later.has(p.change.path)) continue;
    const shallow = !isDeep(p);
    // directories whose entries changed shortly before this event are compared too (all of them
    // for a full rescan)
    const since = Math.floor(p.change.since / 1000) - 30;
    const full = !!p.change.full;
    if (p.knownThere) await ap.guard(p.change.path, p.change, () => checkLocally(ap, p.change.path, since, full));
    else await ap.guard(p.change.path, p.change, () => syncTree(ap, p.change.path, { remoteEmpty: p.action.op === 'mkdir' && !p.remote, shallow, changedSince: full ? -Infinity : since }));
  }
  if (forward.length && !ap.broken) {
    await sendManifest(ctx.target, ctx.source.name, forward).catch((e) => ctx.log.debug(`inbox manifest not written on ${ctx.target.name}: ${(e as Error).message}`));
  }
  return ap.result();
}

/**
 * The shallow compare of a directory that came back to its origin (skipBack), without listing the
 * origin: an entry here that this link knows the target holds (its memory), or whose own arrival
 * waits in the queue, needs nothing; any other is compared with the target and sent as a tree sync
 * would (engine/treesync.ts: only where it changes something), one lstat each, or, past
 * LOOKUPS_PER_DIR in one directory, by syncTree listing it. Subdirectories the target is known to
 * hold are checked the same way when their entries changed since `since`, as syncTree's
 * shallow mode does; one that is not known is handed to syncTree. `full` (a settled burst's
 * rescan): every subdirectory, as files rewritten in place leave no trace on their directory;
 * then only entries changed since `since` (their ctime) are checked at all: the burst's lost
 * events are the concern, not what the link forgot, and a big tree costs an lstat an entry.
 */
const LOOKUPS_PER_DIR = 16;

async function checkLocally(ap: Applier, dir: string, since: number, full = false): Promise<void> {
  const { source, target, exclude, memory } = ap.ctx;
  const unknown: { path: string; entry: Entry; problem?: string; changed?: number }[] = [];
  const listAll: string[] = [];
  const dirs = [dir];
  while (dirs.length && !ap.broken) {
    const d = dirs.pop()!;
    if (ap.compared.has(d)) continue; // (compared by another tree of this batch)
    const mine = await source.readdir(d, full ? { ctimes: true } : undefined);
    const before = unknown.length;
    for (const { name, entry, problem, changed } of mine) {
      const path = joinRel(d, name);
      if (exclude(path)) continue;
      // (full) not changed since the burst began: not the burst's concern, but a directory is gone into
      if (full && !problem && changed !== undefined && changed < since) {
        if (entry.type === 'dir' && !ap.ctx.deferTree?.(path)) dirs.push(path);
        continue;
      }
      const known = memory.get(path);
      if (!problem && known && sameEntry(known, entry)) {
        if (entry.type === 'dir' && (full || dirChangedSince(entry, changed, since)) && !ap.ctx.deferTree?.(path)) dirs.push(path);
        continue;
      }
      const a = ap.ctx.arrivedOf?.(path);
      if (!problem && a && a.entry !== undefined && sameState(a.entry, entry)) continue; // its own turn comes
      unknown.push({ path, entry, problem, changed });
    }
    // many unknown entries (lost events of a whole burst): one listing of the target costs less
    if (unknown.length - before > LOOKUPS_PER_DIR) {
      unknown.splice(before);
      listAll.push(d);
    } else ap.compared.set(d, false);
  }
  const changedSince = full ? -Infinity : since;
  for (const d of listAll) if (!ap.broken && !ap.ctx.deferTree?.(d)) await syncTree(ap, d, { shallow: true, changedSince });
  await forEachLimit(unknown, ap.ctx.concurrency ?? 128, (j) => {
    const now = Date.now();
    return ap.guard(j.path, { path: j.path, kind: 'change', since: now, at: now }, async () => {
      const remote = j.problem ? null : await target.lstat(j.path);
      await sendEntry(ap, j.path, j.entry, remote, j.problem);
      const lacked = !remote || remote.type !== 'dir';
      if (j.entry.type === 'dir' && !ap.broken && (lacked || full || dirChangedSince(j.entry, j.changed, since)) && !ap.ctx.deferTree?.(j.path)) await syncTree(ap, j.path, { remoteEmpty: lacked, shallow: true, changedSince });
    });
  });
}

/**
 * A directory that vanished here (still on the target) and a new directory here whose listing is
 * the same (names, types, and for files size and mtime) moved: the target renames it instead of
 * receiving every file again. Only unambiguous pairs; the tree sync afterwards fixes any detail.
 */
async function pairDirMoves(ctx: PushContext, planned: Planned[]): Promise<void> {
  const gone = planned.filter((p) => p.action.op === 'remove' && p.action.remote.type === 'dir');
  const born = planned.filter((p) => p.action.op === 'mkdir' && !p.remote);
  if (!gone.length || !born.length || gone.length * born.length > 64) return;
  const sig = (list: { name: string; entry: Entry }[]) =>
    list
      .map((d) => `${d.name}\0${d.entry.type}\0${d.entry.type === 'file' ? `${d.entry.size}:${d.entry.mtime}` : ''}`)
      .sort()
      .join('\n');
  const goneSig = await Promise.all(gone.map(async (g) => sig(await ctx.target.readdir(g.change.path))));
  const bornSig = await Promise.all(born.map(async (b) => sig(await ctx.source.readdir(b.change.path))));
  born.forEach((b, i) => {
    if (bornSig[i] === '') return;
    const matches = goneSig.flatMap((s, j) => (s === bornSig[i] ? [j] : []));
    if (matches.length !== 1 || bornSig.filter((s) => s === bornSig[i]).length !== 1) return;
    const g = gone[matches[0]];
    if (g.action.op !== 'remove') return;
    b.action = { op: 'rename', from: g.change.path, path: b.change.path, local: b.local! };
    g.action = { op: 'skip', path: g.change.path, reason: 'equal' };
    g.hops = -1;
  });
}

function byDepth(items: Planned[]): Planned[][] {
  const groups = new Map<number, Planned[]>();
  for (const p of items) {
    const d = p.change.path.split('/').length;
    (groups.get(d) ?? groups.set(d, []).get(d)!).push(p);
  }
  return [...groups.keys()].sort((a, b) => a - b).map((d) => groups.get(d)!);
}

/**
 * lstat of many paths on the target in one go where the Remote can (SftpRemote.lstatMany); a path
 * missing from the answer (no lstatMany, or it failed) is asked on its own by the caller, so its
 * error is that path's, classified as usual.
 */
async function lookMany(target: Remote, paths: string[]): Promise<Map<string, Entry | null>> {
  const out = new Map<string, Entry | null>();
  if (!target.lstatMany || paths.length < 2) return out;
  try {
    const entries = await target.lstatMany(paths);
    paths.forEach((p, i) => out.set(p, entries[i] ?? null));
  } catch {
    out.clear();
  }
  return out;
}

/** the same state of a path: both absent, or the same entry */
function sameState(a: Entry | null, b: Entry | null): boolean {
  return a === null || b === null ? a === b : sameEntry(a, b);
}

/**
 * The last hop of a change need not compare it with the host it set out from. True when the target
 * is the change's origin, this host still holds exactly the version that arrived, this link has not
 * put anything else there since it last knew (its memory of the path is unknown or that version),
 * the change was to travel only where it changes something (hops 0: after a bypass it can reach its
 * origin with hops to spare, and then it must go past it). A directory still gets its entries
 * checked, for files whose events were lost here, but locally (checkLocally).
 *
 * Why. The origin O held version X when X set out (it read X from its own root, or, for a notice,
 * the pusher saw it there). Compared at O, X finds X (nothing to do: the common case, and all the
 * skip saves is that look) or something O got since. What O can get since, and why skipping is
 * still safe:
 *   - a local write on O: an event of O's watcher (journaled, caught up after downtime) that goes
 *     round the whole ring like any change made there; it reaches this host after X, replaces X
 *     here (our predecessor's memory says we still hold what it gave us) and meets O's version on
 *     this link again;
 *   - a write into O by this very link (an older change we pushed after X had left O): the case
 *     that breaks it. Two versions can then cross — X's last hop skipped here, and the other
 *     version's last hop skipped at X's side for the same reason — and the ring stays split
 *     (test/engine/conflict.test.ts's random rings found such schedules when this condition was
 *     missing). The link's memory records every such write, so a memory that differs from X
 *     means "compare";
 *   - a write by a bypass link (while this host was down) or by a repair: the bypass link compares
 *     the same arrivals with O itself (both links get them), and a repair leaves the ring equal.
 * What it relies on beyond that, as the hops rule already does: "still holds what arrived" is judged
 * by metadata (type, size, whole-second mtime, mode), so X → Y → X here with the middle step's
 * manifest lost reads as unchanged; a memory entry evicted by 200,000 newer ones reads as unknown;
 * and an origin must be a host that held the entry (a conflict copy is made on the target, so it
 * has none; see note()).
 */
export function skipBack(change: PendingChange, local: Entry | null, target: string, last: Entry | null | undefined): boolean {
  const a = change.arrived;
  if (!a || a.origin !== target || a.hops > 0 || a.entry === undefined || !sameState(a.entry, local)) return false;
  return last === undefined || sameState(last, a.entry);
}
