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
  // excluded directories: what is under them is skipped without matching every path again
  const skipped: string[] = [];
  // the directories being walked, outermost first (pre-order: a directory is complete once the
  // walk leaves it), with the rows found in each; the top is the parent of the next entry, so
  // its row needs no lookup by path
  const open: { path: string; row: number; children: number[] }[] = [{ path: '', row: -1, children: [] }];
  const close = (parent: string) => {
    for (let top = open[open.length - 1]!; top.path !== '' && parent !== top.path && !under(parent, top.path); top = open[open.length - 1]!) {
      open.pop();
      o.onDir?.(top.row, top.children);
    }
  };
  const signal = o.signal;
  const done = await remote.walk!((rel, e) => {
    // (throwing here stops the walk: findWalk kills its find and rejects with this)
    if (signal?.aborted) throw signal.reason ?? new Error('aborted');
    const top = skipped[skipped.length - 1];
    if (top !== undefined && under(rel, top)) return;
    if (o.exclude(rel)) {
      if (e.type === 'dir') skipped.push(rel);
      return;
    }
    const slash = rel.lastIndexOf('/');
    const parent = slash === -1 ? '' : rel.slice(0, slash);
    close(parent);
    const dir = open[open.length - 1]!;
    const row = l.add(rel, dir.path === parent ? dir.row : slash === -1 ? -1 : (l.row(parent) ?? -1));
    l.set(host, row, e);
    if (o.onDir) dir.children.push(row);
    if (e.type === 'dir') open.push({ path: rel, row, children: [] });
    if (++n % 1000 === 0) o.onEntries?.(1000);
  });
  if (!done) return false;
  close('\0'); // (a parent no path has: closes all but the root)
  o.onDir?.(-1, open[0]!.children);
  o.onEntries?.(n % 1000);
  return true;
}

/** path is below dir (dir not empty), without building dir + '/' */
function under(path: string, dir: string): boolean {
  return path.length > dir.length && path.charCodeAt(dir.length) === 47 && path.startsWith(dir);
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
