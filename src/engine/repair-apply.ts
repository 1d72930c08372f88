// Executes a repair plan (core/reconcile.ts) on the hosts: conflict copies aside first, then
// structure (removals, replaced types, directories) outermost first, then content, many actions in
// flight per host. Each file is read from a host that holds the winning version and streamed
// through this process into the target (openRead → putFrom: atomic temp+rename there, mode and
// mtime set), never whole in memory. Before changing a path it checks the target still holds what
// the plan saw (STYLE.md habit 2), and again right before a file is renamed over another; a path
// that changed, or whose source changed or went away, is handed back for a re-plan. What is
// replaced or removed goes to the target's trash (engine/trash.ts) when `trash` is on. A host
// that stops answering is marked down and its work dropped.
import type { Entry } from '../core/types.js';
import type { Logger } from '../core/log.js';
import type { FileReader, PutOptions, Remote } from '../transport/remote.js';
import { TRASH_DIR } from '../core/names.js';
import { trashCandidates } from '../core/trash.js';
import { keepAside, type KeepHow } from './trash.js';
import { TargetChangedError } from './push.js';
import type { HostCounts, RepairAction, RepairPlan } from '../core/reconcile.js';
import { emptyCounts } from '../core/reconcile.js';
import { sameEntry } from '../core/entry.js';
import { classify } from '../core/classify.js';
import { forEachLimit } from './parallel.js';

/**
 * Actions in flight per host. A small file costs three or four round trips (open; write, times,
 * close, check; rename), so over a long link the number in flight sets the rate: 1,000 files over a
 * 20 ms round trip took 1.9 s after the listing at 64, 1.0 s at 256 (bench/README.md finding 15).
 */
const CONCURRENCY = 256;

export interface ApplyProgress {
  files: number;
  bytes: number;
  /** actions done (all kinds) */
  actions: number;
}

export interface ApplyOptions {
  /** actions in flight per host (default CONCURRENCY) */
  concurrency?: number;
  /** keep what is replaced or removed in each target's .chain/trash (config `trash` not false) */
  trash?: boolean;
  log: Logger;
  signal?: AbortSignal;
  onProgress?: (p: ApplyProgress) => void;
}

/** a source opened for reading (or why not) */
interface Opened {
  /** the host, -1 when none holding the version is left */
  s: number;
  reader?: FileReader;
  error?: unknown;
}

export interface PathFailure {
  host: string;
  path: string;
  error: Error;
}

export class PlanApplier {
  readonly done: HostCounts[];
  readonly progress: ApplyProgress = { files: 0, bytes: 0, actions: 0 };
  /** paths to re-plan: the target changed under us, or the source changed or went away */
  readonly changed = new Set<string>();
  readonly failed: PathFailure[] = [];
  /** hosts that stopped answering, with the error that showed it */
  readonly down = new Map<number, Error>();
  private readonly trashDirs = new Map<number, Promise<void>>();

  /** the hosts as they were when this began: a host the caller drops (remotes[h] = null) is down,
   *  and what is running there still has its Remote to fail on and a name to report */
  private readonly at: readonly (Remote | null)[];

  constructor(
    private readonly remotes: readonly (Remote | null)[],
    private readonly o: ApplyOptions,
  ) {
    this.done = remotes.map(() => emptyCounts());
    this.at = [...remotes];
  }

  // ---- early actions, started while the trees are still being listed (repair-stream.ts) ----
  private early?: { items: RepairAction[]; head: number; workers: number }[];
  // per host: directories made early, by path, until made (what goes in them waits for that)
  private making?: Map<string, Promise<void>>[];
  private readonly earlyDone = new Set<Promise<void>>();
  private readonly made = new WeakMap<RepairAction, () => void>();
  private halted = false;

  /** start an action now, behind those started before on that host (at most `concurrency` at once) */
  enqueue(h: number, a: RepairAction): void {
    this.early ??= this.remotes.map(() => ({ items: [], head: 0, workers: 0 }));
    this.making ??= this.remotes.map(() => new Map());
    const q = this.early[h]!;
    q.items.push(a);
    if (a.op === 'mkdir') {
      let done!: () => void;
      const p = new Promise<void>((r) => (done = r));
      this.making[h]!.set(a.path, p);
      this.made.set(a, () => {
        this.making![h]!.delete(a.path);
        done();
      });
    }
    if (q.workers < (this.o.concurrency ?? CONCURRENCY)) {
      q.workers++;
      const w = this.worker(h).finally(() => {
        q.workers--;
        this.earlyDone.delete(w);
      });
      this.earlyDone.add(w);
    }
  }

  /** start no more early actions (those running finish) */
  halt(): void {
    this.halted = true;
  }

  /** wait for every early action */
  async drain(): Promise<void> {
    while (this.earlyDone.size) await Promise.all([...this.earlyDone]);
  }

  private async worker(h: number): Promise<void> {
    const q = this.early![h]!;
    while (q.head < q.items.length) {
      const a = q.items[q.head]!;
      q.items[q.head++] = undefined as unknown as RepairAction; // done with it: let it go
      if (q.head > 4096 && q.head * 2 > q.items.length) {
        q.items = q.items.slice(q.head);
        q.head = 0;
      }
      try {
        const parent = this.making![h]!.get(parentPath(a.path));
        if (parent) await parent;
        if (this.isDown(h) || this.halted || this.o.signal?.aborted) continue;
        await this.run(h, a, a.op !== 'mkdir');
      } finally {
        this.made.get(a)?.();
      }
    }
  }

  isDown(h: number): boolean {
    return this.down.has(h) || !this.remotes[h];
  }

  async apply(plan: RepairPlan): Promise<void> {
    const per = (pick: (a: RepairAction) => boolean) => plan.hosts.map((hp) => hp.actions.filter(pick));
    // 1. losing versions move aside (their copies elsewhere are read from there)
    await this.phase(per((a) => a.op === 'keep'));
    // 2. structure, outermost first: a directory must exist before what goes in it, and what is
    //    in the way of a new type must go first
    const structural = per((a) => a.op === 'remove' || a.op === 'mkdir' || ((a.op === 'copy' || a.op === 'symlink') && a.expect?.type === 'dir'));
    const depths = [...new Set(structural.flat().map((a) => depth(a.path)))].sort((x, y) => x - y);
    for (const d of depths) await this.phase(structural.map((list) => list.filter((a) => depth(a.path) === d)));
    // 3. content; directory modes last (a read-only directory would refuse what goes in it)
    await this.phase(per((a) => a.op === 'copy' || a.op === 'symlink' || (a.op === 'setattr' && a.entry.type !== 'dir')), true);
    await this.phase(per((a) => a.op === 'setattr' && a.entry.type === 'dir'));
    // directories made without owner rwx (made writable for their content) get their mode now
    await this.phase(per((a) => a.op === 'mkdir' && (a.entry.mode & 0o700) !== 0o700).map((l) => l.map(finalMode)));
  }

  /** each host's share in parallel; within a host, up to `concurrency` at once */
  private async phase(lists: RepairAction[][], content = false): Promise<void> {
    await Promise.all(
      lists.map((list, h) =>
        forEachLimit(list, this.o.concurrency ?? CONCURRENCY, async (a) => {
          if (this.isDown(h) || this.o.signal?.aborted) return;
          await this.run(h, a, content);
        }),
      ),
    );
  }

  private async run(h: number, a: RepairAction, content: boolean): Promise<void> {
    const t = this.at[h]!;
    let opening: Promise<Opened> | undefined;
    try {
      // a replaced directory was removed in the structure step: the path is empty now
      const expect = content && a.expect?.type === 'dir' && (a.op === 'copy' || a.op === 'symlink') ? null : (a.expect ?? null);
      // a copy opens its source while the target is checked: one round trip less per file
      opening = content && a.op === 'copy' ? this.open(a) : undefined;
      // a copy over a file checks right before its rename instead (beforeReplace): one lstat, not two
      const now = opening && expect ? expect : await t.lstat(a.path);
      if (!matches(now, expect)) {
        void opening?.then((o) => o.reader?.close().catch(() => {}));
        // already as planned (an earlier round, or another writer got there first): nothing to do
        if (now && reached(now, a)) return;
        this.changed.add(a.path);
        this.o.log.debug(`${t.name}: ${a.path} changed since it was listed; planning it again`, { host: t.name, path: a.path });
        return;
      }
      const c = this.done[h]!;
      switch (a.op) {
        case 'keep':
          // (keepAside: never over something that appeared at that name meanwhile)
          if (!(await keepAside(t, a.path, [a.to], 'move'))) throw new Error(`could not keep ${a.path} as ${a.to}`);
          c.keep++;
          break;
        case 'remove':
          await this.takeAway(h, a.path);
          c.remove += a.gone;
          break;
        case 'mkdir':
          if (expect && expect.type !== 'dir') await this.takeAway(h, a.path);
          await t.mkdirp(a.path, a.entry.mode | 0o700);
          await t.setattr(a.path, { mode: a.entry.mode | 0o700 });
          c.mkdir++;
          break;
        case 'symlink':
          if (!content) {
            // the structure step: a directory is in the way
            await this.takeAway(h, a.path);
            c.remove += a.gone ?? 0;
            return;
          }
          if (expect?.type === 'file' && this.o.trash) await this.toTrash(h, a.path, 'move');
          await t.symlink(a.path, a.entry.target ?? '');
          c.symlink++;
          break;
        case 'setattr':
          await t.setattr(a.path, a.entry.type === 'dir' ? { mode: a.entry.mode } : { mode: a.entry.mode, mtime: a.entry.mtime });
          c.setattr++;
          break;
        case 'copy':
          if (!content) {
            await this.takeAway(h, a.path);
            c.remove += a.gone ?? 0;
            return;
          }
          if (!(await this.copy(h, a, expect, opening))) return;
          c.copy++;
          c.bytes += a.entry.size;
          this.progress.files++;
          this.progress.bytes += a.entry.size;
          break;
      }
      this.progress.actions++;
      this.o.onProgress?.(this.progress);
    } catch (err) {
      // (closing twice is harmless: a reader copy() used is closed already)
      void opening?.then((o) => o.reader?.close().catch(() => {}));
      this.trouble(h, a.path, err);
    }
  }

  /** open the winning version on the first live host holding it */
  private open(a: Extract<RepairAction, { op: 'copy' }>): Promise<Opened> {
    const s = a.from.find((x) => !this.isDown(x));
    if (s === undefined) return Promise.resolve({ s: -1 });
    return this.at[s]!.openRead(a.path, a.entry).then(
      (reader) => ({ s, reader }),
      (error: unknown) => ({ s, error }),
    );
  }

  /** stream the winning version from a host holding it; false when it could not be (recorded) */
  private async copy(h: number, a: Extract<RepairAction, { op: 'copy' }>, expect: Entry | null, opening?: Promise<Opened>): Promise<boolean> {
    const t = this.at[h]!;
    const opts: PutOptions = { mode: a.entry.mode, mtime: a.entry.mtime };
    // right before the rename: the version replaced must still be the one planned; keep it
    if (expect) opts.beforeReplace = () => this.beforeReplace(h, a.path, expect);
    for (;;) {
      const o = await (opening ?? this.open(a));
      opening = undefined;
      const s = o.s;
      if (s === -1) break;
      const src = this.at[s]!;
      const reader = o.reader;
      if (!reader) {
        if (this.sourceTrouble(s, a.path, o.error)) continue;
        return false;
      }
      try {
        await t.putFrom(a.path, reader, opts);
        return true;
      } catch (err) {
        // whose fault: SFTP errors name their host; a source that broke mid-read lets us try another
        if ((err as { host?: string }).host === src.name && classify(err) === 'again') {
          this.markDown(s, err as Error);
          continue;
        }
        if ((err as Error).name === 'SourceChangedError' || (err as Error).name === 'TargetChangedError') {
          this.changed.add(a.path);
          return false;
        }
        throw err;
      } finally {
        await reader.close().catch(() => {});
      }
    }
    // every host holding this version is gone: plan it again among those left
    this.changed.add(a.path);
    return false;
  }

  private async beforeReplace(h: number, path: string, was: Entry): Promise<void> {
    const now = await this.at[h]!.lstat(path);
    if (!matches(now, was)) throw new TargetChangedError(path);
    if (this.o.trash && was.type === 'file') await this.toTrash(h, path, 'link');
  }

  /** remove what is at path: into the trash when there is one, else for good */
  private async takeAway(h: number, path: string): Promise<void> {
    if (this.o.trash && (await this.toTrash(h, path, 'move'))) return;
    await this.at[h]!.remove(path);
  }

  private async toTrash(h: number, path: string, how: KeepHow): Promise<boolean> {
    const t = this.at[h]!;
    let ready = this.trashDirs.get(h);
    if (!ready) {
      ready = t.mkdirp(TRASH_DIR, 0o700);
      this.trashDirs.set(h, ready);
      ready.catch(() => this.trashDirs.delete(h));
    }
    await ready;
    const name = await keepAside(t, path, trashCandidates(path, Date.now()), how);
    if (!name) this.o.log.warn(`could not keep ${path} in the trash on ${t.name}; replacing it anyway`, { path, host: t.name });
    return name !== null;
  }

  /** true when the next source should be tried */
  private sourceTrouble(s: number, path: string, err: unknown): boolean {
    if ((err as Error).name === 'SourceChangedError') {
      this.changed.add(path);
      return false;
    }
    if (classify(err) === 'again') {
      this.markDown(s, err as Error);
      return true;
    }
    this.failed.push({ host: this.at[s]!.name, path, error: err as Error });
    this.o.log.warn(`could not read ${path} on ${this.at[s]!.name}: ${(err as Error).message}`, { host: this.at[s]!.name, path });
    return false;
  }

  private trouble(h: number, path: string, err: unknown): void {
    const e = err as Error;
    if (e.name === 'SourceChangedError' || e.name === 'TargetChangedError') {
      this.changed.add(path);
      return;
    }
    const name = this.at[h]!.name;
    if (classify(err) === 'again') {
      this.markDown(h, e);
      return;
    }
    this.failed.push({ host: name, path, error: e });
    this.o.log.warn(`could not repair ${path} on ${name}: ${e.message}`, { host: name, path });
  }

  markDown(h: number, err: Error): void {
    if (this.down.has(h)) return;
    this.down.set(h, err);
    this.o.log.warn(`${this.at[h]?.name ?? h} stopped answering: ${err.message}; going on without it`, { host: this.at[h]?.name });
  }
}

/** the setattr that gives a directory made by mkdir (with owner rwx added) its planned mode */
function finalMode(a: RepairAction): RepairAction {
  const m = a as Extract<RepairAction, { op: 'mkdir' }>;
  return { op: 'setattr', path: m.path, entry: m.entry, expect: { ...m.entry, mode: m.entry.mode | 0o700 } };
}

function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i === -1 ? '' : path.slice(0, i);
}

function depth(path: string): number {
  let d = 1;
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) d++;
  return d;
}

function matches(now: Entry | null, expect: Entry | null): boolean {
  if (!expect) return now === null;
  return now !== null && sameEntry(now, expect);
}

/** the path already holds what the action would make */
function reached(now: Entry, a: RepairAction): boolean {
  if (a.op === 'remove' || a.op === 'keep') return false;
  return sameEntry(now, a.entry);
}
