// Snapshots of a root as tests compare them: type, size, mode, whole-second mtime, content hash,
// link target, for every path but .chain/.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export interface Node {
  type: 'file' | 'dir' | 'symlink' | 'other';
  size?: number;
  mode?: string;
  mtime?: number;
  sha?: string;
  target?: string;
}

export function snapshot(root: string): Map<string, Node> {
  const out = new Map<string, Node>();
  const walk = (rel: string) => {
    const abs = rel ? join(root, rel) : root;
    let names: string[];
    try {
      names = readdirSync(abs);
    } catch {
      return;
    }
    for (const name of names.sort()) {
      const r = rel ? `${rel}/${name}` : name;
      if (r === '.chain') continue;
      let st;
      try {
        st = lstatSync(join(root, r));
      } catch {
        continue;
      }
      if (st.isSymbolicLink()) out.set(r, { type: 'symlink', target: readlinkSync(join(root, r)) });
      else if (st.isDirectory()) {
        out.set(r, { type: 'dir', mode: (st.mode & 0o7777).toString(8) });
        walk(r);
      } else if (st.isFile()) {
        let sha = '';
        try {
          sha = createHash('sha1').update(readFileSync(join(root, r))).digest('hex');
        } catch {
          sha = 'unreadable';
        }
        out.set(r, { type: 'file', size: st.size, mode: (st.mode & 0o7777).toString(8), mtime: Math.floor(st.mtimeMs / 1000), sha });
      } else out.set(r, { type: 'other' });
    }
  };
  walk('');
  return out;
}

/** human-readable differences between two snapshots ([] when identical) */
export function diffSnapshots(a: Map<string, Node>, b: Map<string, Node>, names = ['a', 'b']): string[] {
  const out: string[] = [];
  for (const [p, n] of a) {
    const m = b.get(p);
    if (!m) out.push(`${p}: only on ${names[0]}`);
    else if (JSON.stringify(n) !== JSON.stringify(m)) out.push(`${p}: ${names[0]} ${JSON.stringify(n)} != ${names[1]} ${JSON.stringify(m)}`);
  }
  for (const p of b.keys()) if (!a.has(p)) out.push(`${p}: only on ${names[1]}`);
  return out;
}

/** differences among all roots against the first ([] when all identical) */
export function ringDiff(roots: string[]): string[] {
  const snaps = roots.map(snapshot);
  return snaps.slice(1).flatMap((s, i) => diffSnapshots(snaps[0], s, ['host1', `host${i + 2}`]));
}

/** poll until fn() returns true (never a fixed sleep) */
export async function until(fn: () => boolean | Promise<boolean>, timeoutMs: number, what: string | (() => string), everyMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs}ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
