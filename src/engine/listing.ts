// Lists a host's tree into one column of a Listings table (core/listings.ts): directory by
// directory, many directories in flight (each readdir is a few pipelined SFTP requests returning
// names with their lstat attributes, so there is no round trip per file), never descending into
// excluded paths or .chain/. Also lists just a few paths (and what is under them) for a re-plan.
import type { Remote } from '../transport/remote.js';
import type { ExcludeFn } from '../core/exclude.js';
import type { RootState } from '../core/reconcile.js';
import { Listings } from '../core/listings.js';
import { joinRel, parentOf } from '../core/paths.js';

export interface ListOptions {
  exclude: ExcludeFn;
  /** directories listed at once (default 16: enough to keep the server busy, few enough that directories complete one after another and their repair can start) */
  concurrency?: number;
  /** called with the number of entries of each directory listed */
  onEntries?: (n: number) => void;
  /** called when this host has listed a directory (row -1: the root), with the rows of what is in it */
  onDir?: (row: number, children: number[]) => void;
  signal?: AbortSignal;
}

/** List remote's whole tree into column `host` of l; 'missing' when the root is not a directory. */
export async function listHost(remote: Remote, l: Listings, host: number, o: ListOptions): Promise<RootState> {
  const root = await remote.lstat('');
  if (root?.type !== 'dir') return 'missing';
  if (remote.walk && (await walkAtOnce(remote, l, host, o))) return 'ok';
  await walk(remote, l, host, [{ dir: '', row: -1 }], o);
  return 'ok';
}

/** List only these paths (and, for directories, what is under them) into column `host`. */
export async function listPaths(remote: Remote, l: Listings, host: number, paths: readonly string[], o: ListOptions): Promise<void> {
  const dirs: { dir: string; row: number }[] = [];
  await Promise.all(
    paths.map(async (p) => {
      if (o.exclude(p)) return;
      const e = await remote.lstat(p);
      const row = l.add(p, p.includes('/') ? (l.row(parentOf(p)) ?? -1) : -1);
      l.set(host, row, e);
      if (e?.type === 'dir') dirs.push({ dir: p, row });
    }),
  );
  await walk(remote, l, host, dirs, o);
}

/** a Remote that lists its whole tree in one pass (by find: a local root, or a host that runs it for us) */
async function walkAtOnce(remote: Remote, l: Listings, host: number, o: ListOptions): Promise<boolean> {
  let n = 0;
  // the directories being walked, by depth (the root at 0; pre-order: a directory is complete once
  // the walk leaves it), with the rows found in each: an entry at depth d is in open[d - 1]
  const open: { row: number; children: number[] }[] = [{ row: -1, children: [] }];
  // an excluded directory's depth: what is deeper, until the walk leaves it, is skipped unmatched
  let skipBelow = Infinity;
  const signal = o.signal;
  const done = await remote.walk!((rel, e, depth) => {
    // (throwing here stops the walk: the walker kills its find and rejects with this)
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
    if (depth > skipBelow) return;
    skipBelow = Infinity;
    while (open.length > depth) {
      const top = open.pop()!;
      o.onDir?.(top.row, top.children);
    }
    if (open.length !== depth) throw new Error(`the listing of ${remote.name} came out of order at ${rel}`);
    if (o.exclude(rel)) {
      if (e.type === 'dir') skipBelow = depth;
      return;
    }
    const dir = open[depth - 1]!;
    const row = l.add(rel, dir.row);
    l.set(host, row, e);
    if (o.onDir) dir.children.push(row);
    if (e.type === 'dir') open.push({ row, children: [] });
    if (++n % 1000 === 0) o.onEntries?.(1000);
  });
  if (!done) return false;
  while (open.length > 1) {
    const top = open.pop()!;
    o.onDir?.(top.row, top.children);
  }
  o.onDir?.(-1, open[0]!.children);
  o.onEntries?.(n % 1000);
  return true;
}

async function walk(remote: Remote, l: Listings, host: number, start: { dir: string; row: number }[], o: ListOptions): Promise<void> {
  const queue = [...start];
  const limit = o.concurrency ?? 16;
  let active = 0;
  let failed: unknown;
  await new Promise<void>((resolve, reject) => {
    const next = () => {
      if (failed !== undefined) return;
      if (o.signal?.aborted) {
        failed = o.signal.reason ?? new Error('aborted');
        return reject(failed);
      }
      if (queue.length === 0 && active === 0) return resolve();
      while (active < limit && queue.length) {
        const job = queue.pop()!;
        active++;
        remote.readdir(job.dir).then(
          (entries) => {
            active--;
            o.onEntries?.(entries.length);
            const rows: number[] = [];
            for (const { name, entry } of entries) {
              const path = joinRel(job.dir, name);
              if (o.exclude(path)) continue;
              const row = l.add(path, job.row);
              l.set(host, row, entry);
              rows.push(row);
              if (entry.type === 'dir') queue.push({ dir: path, row });
            }
            o.onDir?.(job.row, rows);
            next();
          },
          (err) => {
            failed = err;
            reject(err);
          },
        );
      }
    };
    next();
  });
}
