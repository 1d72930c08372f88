// Keeping the version a push takes away. Before a pusher replaces or removes something on a
// target, the old version goes to the target's trash (<root>/.chain/trash/<day>/<path>) or, for
// the loser of a conflict with `conflicts: keep`, beside it under a conflict name. A file about to
// be replaced is hard-linked there (the path never goes missing: the new version is renamed over
// it right after); where the server cannot hard-link, and for removals, it is renamed there.
// Each host prunes its own trash: pruneTrash(), from the daemon, at start and hourly.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Remote } from '../transport/remote.js';
import { STATE_DIR, TRASH_DIR } from '../core/names.js';
import { parentOf } from '../core/paths.js';
import { expiredDays } from '../core/trash.js';

export type KeepHow = 'link' | 'move';

/**
 * Put the entry at `path` at the first free name of `names` ('link': as a second name, the path
 * stays; 'move': renamed away). Returns the name used, or null when none could be used (the
 * caller goes on: keeping is a safety net, not worth failing a push for).
 */
export async function keepAside(target: Remote, path: string, names: string[], how: KeepHow): Promise<string | null> {
  let mode: KeepHow = how === 'link' && target.link ? 'link' : 'move';
  for (const name of names) {
    try {
      if (await target.lstat(name)) continue;
      await target.mkdirp(parentOf(name));
    } catch {
      continue; // a file where a directory of this name should be: try the next name
    }
    try {
      if (mode === 'link') await target.link!(path, name);
      else await target.rename(path, name);
      return name;
    } catch (err) {
      if (mode === 'link' && unsupported(err)) {
        mode = 'move';
        try {
          await target.rename(path, name);
          return name;
        } catch (e) {
          err = e;
        }
      }
      // taken meanwhile: next name; anything else (another filesystem, no permission): give up
      if (!(await target.lstat(name).catch(() => null))) return null;
    }
  }
  return null;
}

/** the server cannot hard-link (no extension, or a filesystem without hard links) */
function unsupported(err: unknown): boolean {
  const e = err as { kind?: string; code?: unknown } | null;
  return e?.kind === 'unsupported' || e?.code === 'EPERM' || e?.code === 'ENOTSUP' || e?.code === 'EOPNOTSUPP' || e?.code === 'EMLINK';
}

/**
 * Remove the day directories of <root>/.chain/trash older than the retention (this host's own
 * root, read directly). Returns their names. Refuses to look when .chain or .chain/trash is not a
 * real directory: a symlink there must not lead the pruner out of the root.
 */
export async function pruneTrash(root: string, retentionMs: number, now = Date.now()): Promise<string[]> {
  const dir = join(root, TRASH_DIR);
  for (const d of [join(root, STATE_DIR), dir]) {
    const st = await fs.lstat(d).catch(() => null);
    if (!st?.isDirectory()) return [];
  }
  const expired = expiredDays(await fs.readdir(dir), retentionMs, now);
  for (const name of expired) await fs.rm(join(dir, name), { recursive: true, force: true });
  return expired;
}
