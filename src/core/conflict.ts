// Which version of a file wins when a pusher finds the target holding a different one, decided
// from metadata alone so that every host of the ring computes the same answer (DESIGN.md,
// Conflicts). M is what this link last pushed for the path (or found identical there):
//
//   the target still holds M   only we changed it since: ours wins, even if it is older-dated
//                              (a `cp -p` of a backup is a deliberate change, not an old version)
//   anything else              both changed, or only the target, or M is forgotten: a conflict,
//                              decided by compareVersions (newer mtime, then larger size, then
//                              higher mode), the same on every host
//
// "Only the target changed" is a conflict too, not a win for the target: a pusher that did not
// change a path compares it only when asked to (push.ts: it arrived here, or our version was found
// winning downstream), and then the whole ring must agree on one order, or two links could each see
// the other's version winning and hand the path back and forth forever. test/core/ring.test.ts
// checks that random schedules always converge.
// Also here: the name a losing version is kept under (`conflicts: keep`).
import type { Entry } from './types.js';
import { compareVersions, sameEntry } from './entry.js';
import { parentOf, joinRel } from './paths.js';

export interface FileVerdict {
  winner: 'local' | 'remote';
  /** why the target's version wins (when it does) */
  reason?: 'remote-newer' | 'remote-changed';
  /** the target's version is a change of its own that ours replaces: keep it with `conflicts: keep`.
   *  'unknown': the link has no memory of the path, so nobody can tell */
  conflict: boolean | 'unknown';
}

/** local and remote are two different files (not sameEntry); last is what this link last pushed. */
export function decideFile(local: Entry, remote: Entry, last: Entry | null | undefined): FileVerdict {
  const m = last && last.type === 'file' ? last : null;
  if (m && sameEntry(remote, m)) return { winner: 'local', conflict: false };
  if (compareVersions(local, remote) > 0) return { winner: 'local', conflict: m ? true : 'unknown' };
  return { winner: 'remote', reason: 'remote-newer', conflict: false };
}

/**
 * Two modes of one directory (the only thing compared for directories). A chmod has no version to
 * compare (no mtime change; SFTP carries no ctime), so: the target still holds what this link last
 * pushed there (or found there) — only we changed it: ours wins; anything else — it changed there
 * too, or the link has no memory of it — the higher mode wins, the same on every host.
 * Why not "ours always": cp -a, tar and rsync make a directory 0700 while they fill it and chmod it
 * after; a pusher that read it in between sends 0700 on, and that version, coming back round the ring
 * to its origin after the chmod, must not undo it there (the ring then settled on 0700 everywhere).
 */
export function decideDir(local: Entry, remote: Entry, last: Entry | null | undefined): 'local' | 'remote' {
  if (last && last.type === 'dir' && sameEntry(remote, last)) return 'local';
  return local.mode > remote.mode ? 'local' : 'remote';
}

/** UTC "YYYYMMDD-HHMMSS" of a time in whole seconds */
export function stamp(sec: number): string {
  const iso = new Date(sec * 1000).toISOString(); // 2024-05-01T12:34:56.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

/** a file name may hold this many bytes (Linux NAME_MAX) */
const NAME_MAX = 255;

/** "dir/stem.ext" → ["dir", "stem", ".ext"]; a leading dot is part of the stem (".bashrc" has no extension) */
export function splitName(path: string): [dir: string, stem: string, ext: string] {
  const dir = parentOf(path);
  const base = dir === '' ? path : path.slice(dir.length + 1);
  const dot = base.lastIndexOf('.');
  if (dot <= 0 || dot === base.length - 1) return [dir, base, ''];
  return [dir, base.slice(0, dot), base.slice(dot)];
}

/** dir/stem + tag + ext, the stem shortened (by whole characters) so the name fits NAME_MAX bytes */
export function tagName(path: string, tag: string): string {
  const [dir, stem, ext] = splitName(path);
  let s = stem;
  while (s.length > 1 && Buffer.byteLength(s + tag + ext) > NAME_MAX) s = [...s].slice(0, -1).join('');
  return joinRel(dir, s + tag + ext);
}

/**
 * Where the losing version of `path` is kept: NAME.chain-conflict-HOST-TIMESTAMP.EXT beside it.
 * HOST is the host the loser was on, TIMESTAMP the loser's mtime (UTC); n > 1 is added when that
 * name is taken already ("-2", "-3", ...).
 */
export function conflictName(path: string, host: string, mtimeSec: number, n = 1): string {
  return tagName(path, `.chain-conflict-${host}-${stamp(mtimeSec)}${n > 1 ? `-${n}` : ''}`);
}

/** keepAs (a conflictName), then the same with "-2", "-3", ... after the timestamp, for when it is taken */
export function conflictAlternatives(keepAs: string, max = 9): string[] {
  const m = /^(.*\.chain-conflict-.*-\d{8}-\d{6})((?:\.[^./]*)?)$/.exec(keepAs);
  if (!m) return [keepAs];
  return [keepAs, ...Array.from({ length: max - 1 }, (_, i) => `${m[1]}-${i + 2}${m[2]}`)];
}

/** true for names conflictName makes */
export function isConflictName(path: string): boolean {
  return /\.chain-conflict-[^/]*-\d{8}-\d{6}(-\d+)?(\.[^./]*)?$/.test(path);
}
