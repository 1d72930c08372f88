// Where replaced and deleted files go on a target (`trash:`), and when a day of trash has expired.
// Pure: engine/trash.ts moves files and prunes. A day directory is named after the UTC day the
// files went in, so every host of the ring, whatever its timezone, names and prunes alike.
import { TRASH_DIR } from './names.js';
import { joinRel } from './paths.js';
import { stamp, tagName } from './conflict.js';

const DAY_MS = 86_400_000;
const DAY_NAME = /^(\d{4})-(\d{2})-(\d{2})$/;

/** "YYYY-MM-DD" (UTC) of a time in ms */
export function trashDay(nowMs: number): string {
  return new Date(nowMs).toISOString().slice(0, 10);
}

/**
 * Where `path` may go in the trash, best first: .chain/trash/DAY/path; when that is taken (the
 * same path trashed twice in a day), the name gets the time it was trashed, "photo~HHMMSS.jpg", then
 * "photo~HHMMSS-2.jpg", ...; and last a directory of its own, for when a component of the path is
 * a file in the trash already.
 */
export function trashCandidates(path: string, nowMs: number): string[] {
  const day = joinRel(TRASH_DIR, trashDay(nowMs));
  const hms = stamp(Math.floor(nowMs / 1000)).slice(9);
  const out = [joinRel(day, path), joinRel(day, tagName(path, `~${hms}`))];
  for (let n = 2; n <= 5; n++) out.push(joinRel(day, tagName(path, `~${hms}-${n}`)));
  out.push(joinRel(joinRel(day, `~${hms}-${String(nowMs % 1000).padStart(3, '0')}`), path));
  return out;
}

/** day directories (names as listed in .chain/trash) whose newest possible entry is older than the
 *  retention; other names are never listed */
export function expiredDays(names: string[], retentionMs: number, nowMs: number): string[] {
  return names.filter((n) => {
    const m = DAY_NAME.exec(n);
    if (!m) return false;
    const start = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
    return Number.isFinite(start) && trashDay(start) === n && start + DAY_MS + retentionMs <= nowMs;
  });
}
