// Root-relative path rules. Every path that reaches a transport passes through here, so nothing
// can name a place outside a host's root: no "..", no absolute paths, no NUL, no empty segments.
import { posix } from 'node:path';

const SLASH = 0x2f;
const DOT = 0x2e;

export class UnsafePathError extends Error {
  constructor(readonly path: string, readonly why: string) {
    super(`refusing path ${JSON.stringify(path)}: ${why}`);
    this.name = 'UnsafePathError';
  }
}

/** Returns the canonical form of a root-relative path ("" for the root), or throws UnsafePathError. */
export function safeRel(path: string): string {
  if (path === '' || path === '.') return '';
  if (path.includes('\0')) throw new UnsafePathError(path, 'contains a NUL byte');
  if (path.charCodeAt(0) === SLASH) throw new UnsafePathError(path, 'is absolute');
  // segment by segment without splitting (every lstat and write of a daemon comes through here)
  for (let start = 0; ; ) {
    const slash = path.indexOf('/', start);
    const end = slash === -1 ? path.length : slash;
    const len = end - start;
    if (len === 2 && path.charCodeAt(start) === DOT && path.charCodeAt(start + 1) === DOT) throw new UnsafePathError(path, 'contains ".."');
    if (len === 0 || (len === 1 && path.charCodeAt(start) === DOT)) throw new UnsafePathError(path, 'has an empty or "." segment');
    if (slash === -1) return path;
    start = slash + 1;
  }
}

/** Absolute path of rel under root (root must be absolute; rel is checked). */
export function underRoot(root: string, rel: string): string {
  const r = safeRel(rel);
  if (r === '') return root;
  // a checked rel needs no normalizing, and neither does a root as the config makes it (normalized);
  // any other root goes through posix.join, which would have removed its "//", "." and ".."
  if (root.includes('//') || root.includes('/.')) return posix.join(root, r);
  return root.charCodeAt(root.length - 1) === SLASH ? root + r : `${root}/${r}`;
}

/** Root-relative form of an absolute path that lies under root, or null if it does not. */
export function relativeTo(root: string, abs: string): string | null {
  const base = root.endsWith('/') ? root : root + '/';
  if (abs === root || abs + '/' === base) return '';
  if (!abs.startsWith(base)) return null;
  return abs.slice(base.length);
}

/** "a/b/c" → ["a", "a/b"] (the ancestors, outermost first; not the path itself) */
export function ancestors(rel: string): string[] {
  const out: string[] = [];
  let i = rel.indexOf('/');
  while (i !== -1) {
    out.push(rel.slice(0, i));
    i = rel.indexOf('/', i + 1);
  }
  return out;
}

export function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i === -1 ? '' : rel.slice(0, i);
}

export function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}
