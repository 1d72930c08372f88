// Comparing entries: what "identical" means for compare-before-copy.
import type { Entry } from './types.js';

/** Same type, and for files size, whole-second mtime and mode; dirs: mode; links: target. */
export function sameEntry(a: Entry, b: Entry): boolean {
  if (a.type !== b.type) return false;
  switch (a.type) {
    case 'file':
      return a.size === b.size && a.mtime === b.mtime && a.mode === b.mode;
    case 'dir':
      return a.mode === b.mode;
    case 'symlink':
      return a.target === b.target;
    default:
      return true;
  }
}

/** Same content as far as metadata can tell (a mode-only difference is fixed with setattr). */
export function sameContent(a: Entry, b: Entry): boolean {
  return a.type === 'file' && b.type === 'file' && a.size === b.size && a.mtime === b.mtime;
}

/**
 * Which of two versions of a file wins a conflict, computed the same way on every host:
 * newer mtime; on a tie the larger size; then the higher mode. Returns >0 if a wins, <0 if b, 0 if equal.
 */
export function compareVersions(a: Entry, b: Entry): number {
  return a.mtime - b.mtime || a.size - b.size || a.mode - b.mode;
}

export function describe(e: Entry | null): string {
  if (!e) return 'absent';
  if (e.type === 'symlink') return `symlink -> ${e.target}`;
  if (e.type === 'dir') return `dir ${e.mode.toString(8)}`;
  return `${e.type} ${e.size}B mtime=${e.mtime} mode=${e.mode.toString(8)}`;
}
