// Exclude rules: plain globs relative to the root (picomatch). A pattern without "/" matches a name
// at any depth ("*.tmp" excludes a/b/c.tmp); a pattern with "/" is anchored at the root
// ("cache/**"); a leading "/" anchors a plain name at the root too ("/cache" is only the
// top-level cache, as in .gitignore). A path is excluded when it or any directory above it matches, so excluding a
// directory excludes everything under it. .chain/ and chain's temp names are always excluded.
import picomatch from 'picomatch';
import { ancestors } from './paths.js';
import { isReserved } from './names.js';

export type ExcludeFn = (rel: string) => boolean;

export function compileExclude(patterns: readonly string[]): ExcludeFn {
  const matchers = patterns.map((p) => {
    const anchored = p.replace(/^\/+/, '');
    const re = picomatch(anchored, { dot: true, basename: !p.includes('/') });
    // "dir/**" also names "dir" itself
    const dirOnly = anchored.endsWith('/**') ? anchored.slice(0, -3) : null;
    return (rel: string) => re(rel) || rel === dirOnly;
  });
  const hit = (rel: string) => matchers.some((m) => m(rel));
  return (rel: string) => {
    if (rel === '') return false;
    if (isReserved(rel)) return true;
    if (matchers.length === 0) return false;
    if (hit(rel)) return true;
    return ancestors(rel).some(hit);
  };
}
