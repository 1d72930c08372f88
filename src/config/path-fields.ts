// Path values of chain.yaml. root is a directory on every ring host and must be written absolute;
// identity, knownHosts and state are paths of the machine reading the file, where "~" and
// (for key files) paths relative to the config file are resolved.
import { posix } from 'node:path';
import { type FieldContext, Invalid, show, text } from './fields.js';

// root names a directory on every ring host, read there by a daemon that may run as another
// user; a "~" expanded here would name this machine's home, so root must be written absolute.
export function root(v: unknown): string {
  const s = text(v, 'an absolute path such as /var/www/html/images');
  if (s.startsWith('~')) {
    throw new Invalid(`must be an absolute path, got ${show(s)}: "~" is not expanded in root, because root names a directory on every host; write it out, e.g. /home/chain/images`);
  }
  if (!s.startsWith('/')) throw new Invalid(`must be an absolute path (starting with /), got ${show(s)}`);
  const norm = normalizeAbs(s);
  if (norm === '/') throw new Invalid('refusing to replicate / itself: name the directory to keep identical');
  return norm;
}

/** state dir: "~" is the home of the user running chain; must end up absolute (daemons have no useful cwd). */
export function stateDir(ctx: FieldContext) {
  return (v: unknown): string => {
    const s = expandHome(text(v, 'an absolute path such as /var/lib/chain'), ctx.home);
    if (!s.startsWith('/')) throw new Invalid(`must be an absolute path or start with ~/, got ${show(v)}`);
    return normalizeAbs(s);
  };
}

/** identity, knownHosts: files of this machine; "~" expanded, relative paths are relative to the config file. */
export function localFile(ctx: FieldContext, example: string) {
  return (v: unknown): string => {
    const s = expandHome(text(v, `a file path such as ${example}`), ctx.home);
    return s.startsWith('/') ? normalizeAbs(s) : posix.resolve(ctx.configDir, s);
  };
}

function expandHome(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return posix.join(home, p.slice(2));
  if (p.startsWith('~')) throw new Invalid(`cannot expand ${show(p)}: only "~" and "~/…" (the home of the user running chain) are understood`);
  return p;
}

function normalizeAbs(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}
