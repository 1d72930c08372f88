// Root-relative path rules. Every path that reaches a transport passes through here, so nothing
// can name a place outside a host's root: no "..", no absolute paths, no NUL, no empty segments.
import { posix } from 'node:path';

export class UnsafePathError extends Error {
  constructor(readonly path: string, readonly why: string) {
    super(`refusing path ${JSON.stringify(path)}: ${why}`);
    this.name = 'UnsafePathError';
  }
}

/** Returns the canonical form of a root-relative path ("" for the root), or throws UnsafePathError. */
export function safeRel(path: string): string {
  if (path.includes('\0')) throw new UnsafePathError(path, 'contains a NUL byte');
  if (path.startsWith('/')) throw new UnsafePathError(path, 'is absolute');
  if (path === '' || path === '.') return '';
  const parts = path.split('/');
  for (const p of parts) {
    if (p === '..') throw new UnsafePathError(path, 'contains ".."');
    if (p === '' || p === '.') throw new UnsafePathError(path, 'has an empty or "." segment');
  }
  return path;
}

/** Absolute path of rel under root (root must be absolute; rel is checked). */
export function underRoot(root: string, rel: string): string {
  const r = safeRel(rel);
  return r === '' ? root : posix.join(root, r);
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
