// Names chain reserves inside a replicated root. <root>/.chain/ is never replicated, and the
// temp names chain writes are recognisable so no watcher ever pushes them.
export const STATE_DIR = '.chain';
/** temp files of atomic writes: <root>/.chain/tmp/<random> */
export const TMP_DIR = '.chain/tmp';
/** manifests a predecessor leaves for this host: "I just wrote these paths" (see engine/inbox.ts) */
export const INBOX_DIR = '.chain/inbox';
/** what pushers replaced or removed here, by day: <root>/.chain/trash/<YYYY-MM-DD>/<path> (core/trash.ts) */
export const TRASH_DIR = '.chain/trash';
/** fallback temp names beside the target, when .chain/tmp is on another filesystem */
export const BESIDE_TEMP_PREFIX = '.chain-tmp-';

/** true for paths chain must never replicate: .chain/ itself and anything under it, and beside-target temp files */
export function isReserved(path: string): boolean {
  if (path === STATE_DIR || path.startsWith(STATE_DIR + '/')) return true;
  // (every listed path comes through here: no slice)
  return path.startsWith(BESIDE_TEMP_PREFIX, path.lastIndexOf('/') + 1);
}

/** a fresh random temp basename */
export function tempName(): string {
  return `${BESIDE_TEMP_PREFIX}${process.pid.toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
