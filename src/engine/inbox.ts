// The inbox: after a pusher changed paths on its successor, it leaves a small manifest in the
// successor's <root>/.chain/inbox/ naming them. The successor's `watch` forwards those paths at once
// instead of waiting for its own watcher's window, so a burst flows down the ring while it is
// still arriving, and one file crosses n hops for one interval, not n intervals.
// Manifests are hints: the watcher sees the same files anyway, so a lost manifest costs latency only.
// An entry may also say which version was written (so this host can tell it from a change of its
// own since), how many more hosts it must visit even where nothing differs, and the host it set out
// from with that version (its origin: the last hop need not compare it there), and it may be a
// notice that our version won a conflict over the predecessor's (see engine/push.ts).
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { PendingChange } from '../core/types.js';
import type { Remote } from '../transport/remote.js';
import type { Change } from './push.js';
import { INBOX_DIR } from '../core/names.js';
import { safeRel } from '../core/paths.js';
import { packEntry, unpackEntry, type PackedEntry } from '../core/entry.js';

interface Manifest {
  v: 1;
  from: string;
  changes: [path: string, kind: 'c' | 'd', at: number, hops?: number, entry?: PackedEntry, origin?: string][];
  /** the sender's batch writes under these paths now ('' = anywhere): engine/holds.ts */
  hold?: string[];
  /** the sender's batch is over (its hold ends) */
  release?: true;
}

/** what a manifest may say besides its changes (engine/holds.ts) */
export interface HoldNotice {
  hold?: string[];
  release?: boolean;
}

/** how far a manifest may send a path on through hosts that hold it already (rings are ≤ ~16) */
const MAX_HOPS = 64;

let seq = 0;

/** Leave a manifest of changes (and a hold or its release) on the target. */
export async function sendManifest(target: Remote, from: string, changes: Change[], notice: HoldNotice = {}): Promise<void> {
  if (changes.length === 0 && !notice.hold && !notice.release) return;
  const m: Manifest = {
    v: 1,
    from,
    changes: changes.map((c) => {
      const kind = c.kind === 'delete' ? 'd' : 'c';
      if (c.hops === undefined) return [c.path, kind, c.at];
      // an origin is only meaningful next to the entry it held
      return c.origin === undefined || c.entry === undefined ? [c.path, kind, c.at, c.hops, packEntry(c.entry ?? null)] : [c.path, kind, c.at, c.hops, packEntry(c.entry), c.origin];
    }),
    ...(notice.hold && { hold: notice.hold }),
    ...(notice.release && { release: true as const }),
  };
  const name = `${Date.now().toString().padStart(14, '0')}-${process.pid}-${(seq++).toString().padStart(6, '0')}.json`;
  await target.writeSmall(`${INBOX_DIR}/${name}`, JSON.stringify(m));
}

/** Read and remove every manifest in this host's inbox, oldest first. Bad ones are dropped; a path
 *  that could lead outside the root ("..", absolute, NUL) is dropped and told to onUnsafe. Each
 *  manifest's sender and hold notice go to onHold, in order (a manifest without one renews a hold). */
export async function drainInbox(root: string, onUnsafe?: (message: string) => void, onHold?: (from: string, notice: HoldNotice) => void): Promise<PendingChange[]> {
  const dir = join(root, INBOX_DIR);
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return [];
  }
  const out: PendingChange[] = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      const m = JSON.parse(await fs.readFile(file, 'utf8')) as Manifest;
      if (m.v === 1 && typeof m.from === 'string' && onHold) {
        const hold = Array.isArray(m.hold) ? m.hold.filter((p): p is string => typeof p === 'string' && isSafe(p)) : undefined;
        onHold(m.from, { ...(hold && { hold }), ...(m.release === true && { release: true }) });
      }
      if (m.v === 1 && Array.isArray(m.changes)) {
        for (const [path, kind, at, hops, entry, origin] of m.changes) {
          try {
            safeRel(path);
          } catch (err) {
            // only a broken or hostile writer names such a path: nothing is sent for it
            onUnsafe?.(`ignored a path in the inbox manifest ${file}: ${(err as Error).message}`);
            continue;
          }
          const arrived: NonNullable<PendingChange['arrived']> = { hops: typeof hops === 'number' && hops > 0 ? Math.min(hops, MAX_HOPS) : 0 };
          const e = unpackEntry(entry);
          if (e !== undefined) {
            arrived.entry = e;
            if (typeof origin === 'string' && origin !== '') arrived.origin = origin;
          }
          out.push({ path, kind: kind === 'd' ? 'delete' : 'change', since: at, at, arrived });
        }
      }
    } catch {
      // unreadable or half-gone manifest: only a hint, the watcher covers it
    }
    await fs.rm(file, { force: true });
  }
  return out;
}

/** Remove all manifests (a full compare is about to cover everything they could say); the
 *  directory stays, since it is being watched. */
export async function clearInbox(root: string): Promise<void> {
  const dir = join(root, INBOX_DIR);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  await Promise.all(names.map((n) => fs.rm(join(dir, n), { force: true })));
}

/** a path a manifest may name: relative, inside the root ('' is the root itself) */
function isSafe(path: string): boolean {
  try {
    safeRel(path);
    return true;
  } catch {
    return false;
  }
}
