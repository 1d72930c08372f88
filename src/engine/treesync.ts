// Compares a subtree of this host with the same subtree on the target, directory by directory
// (one readdir each side per directory, several directories in flight), and sends what differs.
// Used on first start (the whole root) and for directories that are new on the target. It only
// adds and updates: a path the target has and we lack is left alone, because it may be a change
// that has not reached us yet; deletes travel as events (and `chain repair --delete`).
import type { Entry } from '../core/types.js';
import { planPath } from '../core/plan.js';
import { UnsafePathError, joinRel } from '../core/paths.js';
import type { Applier } from './push.js';
import { forEachLimit } from './parallel.js';

interface DirJob {
  dir: string;
  /** the target directory was just created: nothing to list there */
  remoteEmpty: boolean;
}

export interface TreeSyncOptions {
  remoteEmpty?: boolean;
  /** compare only the top directory's entries, descending only into directories the target lacks
   *  (a rescan after possibly lost events: subdirectories that exist on both have their own events) */
  shallow?: boolean;
  /** with shallow: still descend into directories (present on both sides) whose entries changed
   *  since this time (whole seconds): a burst can lose the events of a new subdirectory and of
   *  everything written into it, but not the directory's ctime (DirEntry.changed; the mtime where
   *  the source gives none, as SFTP does: cp -a, tar and rsync -a set a directory's mtime back) */
  changedSince?: number;
  /** directories listed at once */
  dirConcurrency?: number;
  onDir?: (entries: number) => void;
}

export async function syncTree(ap: Applier, root: string, opts: TreeSyncOptions = {}): Promise<void> {
  const { source, target, exclude } = ap.ctx;
  const conc = ap.ctx.concurrency ?? 128;
  await pool<DirJob>([{ dir: root, remoteEmpty: opts.remoteEmpty ?? false }], opts.dirConcurrency ?? 4, async (job, more) => {
    if (ap.broken) return;
    // Compared already in this batch, by another of its trees: not again. A directory planned as
    // new there was new there for that compare too, so it went all the way down; only a deep
    // sync of a directory both sides had needs more than a shallow compare gave it.
    if (!ap.toCompare(job.dir, !opts.shallow && !job.remoteEmpty)) return;
    const [mine, theirs] = await Promise.all([source.readdir(job.dir), job.remoteEmpty ? Promise.resolve([]) : target.readdir(job.dir)]);
    opts.onDir?.(mine.length);
    const remote = new Map<string, Entry>(theirs.map((d) => [d.name, d.entry]));
    const jobs: { path: string; local: Entry; remote: Entry | null; problem?: string; changed?: number }[] = [];
    for (const { name, entry, problem, changed } of mine) {
      const path = joinRel(job.dir, name);
      if (exclude(path)) continue;
      jobs.push({ path, local: entry, remote: remote.get(name) ?? null, problem, changed });
    }
    await forEachLimit(jobs, conc, async (j) => {
      const retry = { path: j.path, kind: 'change' as const, since: Date.now(), at: Date.now() };
      await ap.guard(j.path, retry, async () => {
        await sendEntry(ap, j.path, j.local, j.remote, j.problem);
        const remoteEmpty = !j.remote || j.remote.type !== 'dir';
        const recent = opts.changedSince !== undefined && dirChangedSince(j.local, j.changed, opts.changedSince);
        // (not into a directory our predecessor is still writing into: compared once it is done)
        if (j.local.type === 'dir' && !ap.broken && (remoteEmpty || !opts.shallow || recent) && !ap.ctx.deferTree?.(j.path)) more({ dir: j.path, remoteEmpty });
      });
    });
  });
}

/** whether a directory's entries may have changed since `since` (whole seconds): its ctime where
 *  the listing gives it (DirEntry.changed), else its mtime */
export function dirChangedSince(e: Entry, changed: number | undefined, since: number): boolean {
  return (changed ?? e.mtime) >= since;
}

/**
 * One entry of a tree compare: make the target hold the local entry where that changes something
 * (adds and updates only; the planner's rules decide a newer target), and remember it when the
 * target holds it already. Runs inside the caller's guard.
 */
export async function sendEntry(ap: Applier, path: string, local: Entry, remote: Entry | null, problem?: string): Promise<void> {
  // cannot be replicated (a name that is not UTF-8): a failure of this path, said out loud
  if (problem) throw new UnsafePathError(path, problem);
  const { memory, target } = ap.ctx;
  const keep = ap.ctx.conflicts === 'keep' ? { host: target.name } : undefined;
  const action = planPath({ path, local, remote, lastPushed: memory.get(path) ?? null, deleteEnabled: false, keep });
  if (action.op === 'skip') {
    ap.stats.skipped++;
    if (action.reason === 'equal') memory.set(path, local);
  } else {
    await ap.structure(action);
    await ap.content(action, remote);
  }
}

/** Work-queue with bounded parallelism where jobs may add jobs. */
function pool<T>(initial: T[], limit: number, fn: (item: T, more: (t: T) => void) => Promise<void>): Promise<void> {
  const queue = [...initial];
  let active = 0;
  let failed = false;
  return new Promise<void>((resolve, reject) => {
    const next = () => {
      if (failed) return;
      if (queue.length === 0 && active === 0) return resolve();
      while (active < limit && queue.length) {
        const item = queue.pop()!;
        active++;
        fn(item, (t) => queue.push(t)).then(
          () => {
            active--;
            next();
          },
          (e) => {
            failed = true;
            reject(e);
          },
        );
      }
    };
    next();
  });
}
