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
  /** directories listed at once (default 64: each is a few SFTP requests, their answers many entries) */
  concurrency?: number;
  /** called with the number of entries of each directory listed */
  onEntries?: (n: number) => void;
  signal?: AbortSignal;
}

/** List remote's whole tree into column `host` of l; 'missing' when the root is not a directory. */
export async function listHost(remote: Remote, l: Listings, host: number, o: ListOptions): Promise<RootState> {
  const root = await remote.lstat('');
  if (root?.type !== 'dir') return 'missing';
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

async function walk(remote: Remote, l: Listings, host: number, start: { dir: string; row: number }[], o: ListOptions): Promise<void> {
  const queue = [...start];
  const limit = o.concurrency ?? 64;
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
            for (const { name, entry } of entries) {
              const path = joinRel(job.dir, name);
              if (o.exclude(path)) continue;
              const row = l.add(path, job.row);
              l.set(host, row, entry);
              if (entry.type === 'dir') queue.push({ dir: path, row });
            }
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
