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

/** An entry (or null: none) as compact JSON, for the inbox manifests and link memory files:
 *  ["f"|"d"|"l"|"o", size, mtime, mode, target?], or 0 for null. */
export type PackedEntry = 0 | [string, number, number, number, string?];

const CODE: Record<Entry['type'], string> = { file: 'f', dir: 'd', symlink: 'l', other: 'o' };
const TYPE: Record<string, Entry['type']> = { f: 'file', d: 'dir', l: 'symlink', o: 'other' };

export function packEntry(e: Entry | null): PackedEntry {
  if (!e) return 0;
  const p: PackedEntry = [CODE[e.type], e.size, e.mtime, e.mode];
  if (e.target !== undefined) p.push(e.target);
  return p;
}

/** the entry packed by packEntry; undefined when p is not one */
export function unpackEntry(p: unknown): Entry | null | undefined {
  if (p === 0) return null;
  if (!Array.isArray(p)) return undefined;
  const [t, size, mtime, mode, target] = p as unknown[];
  const type = TYPE[t as string];
  if (!type || typeof size !== 'number' || typeof mtime !== 'number' || typeof mode !== 'number') return undefined;
  const e: Entry = { type, size, mtime, mode };
  if (typeof target === 'string') e.target = target;
  return e;
}

/**
 * The mode bits chain replicates: permissions and the sticky bit. setuid/setgid are never carried
 * to another host (a file dropped into an upload directory must not become a set-id program
 * elsewhere). Applied when entries are read on both sides, so compare-before-copy agrees.
 */
export const MODE_BITS = 0o1777;
