// exclude: globs. core/exclude.ts does the matching; this refuses a glob that cannot mean there
// what its author meant, before anything runs.
import picomatch from 'picomatch';
import { Invalid, show, text } from './fields.js';

// As core/exclude.ts compiles them, plus strictBrackets so an unclosed "[" is reported, not taken literally.
const GLOB_OPTIONS = { dot: true, basename: true, strictBrackets: true } as const;

export function glob(v: unknown): string {
  const s = text(v, 'a glob such as "*.tmp" or "cache/**"');
  if (s.startsWith('//')) throw new Invalid(`${show(s)}: one leading "/" anchors a glob at the root ("/cache" is only the top-level cache); drop the others`);
  if (s.startsWith('./')) throw new Invalid(`${show(s)}: globs are relative to root; drop the leading "./"`);
  if (s.startsWith('!')) throw new Invalid(`${show(s)}: negated globs ("!") are not supported; list only what to exclude`);
  if (s.endsWith('/')) throw new Invalid(`${show(s)}: drop the trailing "/" (a matched directory is excluded with everything in it)`);
  if (s.split('/').includes('..')) throw new Invalid(`${show(s)}: ".." cannot match anything under root`);
  let re: RegExp;
  try {
    re = picomatch.makeRe(s.replace(/^\//, ''), GLOB_OPTIONS);
  } catch (e) {
    throw new Invalid(`${show(s)} is not a valid glob: ${(e as Error).message}`);
  }
  // picomatch compiles some broken patterns (bad ranges, a trailing "\") to a never-matching regex.
  if (re.source === '$^') throw new Invalid(`${show(s)} is not a valid glob (check its brackets, braces and escapes)`);
  const m = picomatch(s.replace(/^\//, ''), GLOB_OPTIONS);
  if (m('x') && m('.x') && m('x.y')) {
    throw new Invalid(`${show(s)} would exclude everything; to stop replicating, stop chain instead`);
  }
  return s;
}
