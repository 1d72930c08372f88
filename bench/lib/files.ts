// The workload's files: a staging tree of N small files in 100 leaf directories (10 × 10), the
// pre-read that keeps the page cache warm (BENCHMARKING.md quirk 2), a completion check that
// counts final names only (rsync's ".name.XXXXXX" temp names and chain's .chain/ are ignored), and
// the rename-aside that replaces deletes between runs (quirk 1).
import { mkdirSync, writeFileSync, readdirSync, renameSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileP } from './procs.js';

export interface Layout {
  /** leaf directories (relative) and how many files each holds */
  dirs: { rel: string; files: number }[];
  /** file names per leaf directory */
  names: Map<string, string[]>;
  files: number;
  bytes: number;
}

/** files × size bytes, spread over 10 top directories with 10 subdirectories each */
export function makeTree(dir: string, files: number, size: number): Layout {
  const dirs: Layout['dirs'] = [];
  const names = new Map<string, string[]>();
  let n = 0;
  for (let a = 0; a < 10; a++) {
    for (let b = 0; b < 10; b++) {
      const rel = `d${a}/e${b}`;
      mkdirSync(join(dir, rel), { recursive: true });
      const count = Math.floor(files / 100) + (a * 10 + b < files % 100 ? 1 : 0);
      const list: string[] = [];
      for (let i = 0; i < count; i++) {
        const name = `f${String(n++).padStart(6, '0')}.bin`;
        writeFileSync(join(dir, rel, name), randomBytes(size));
        list.push(name);
      }
      dirs.push({ rel, files: count });
      names.set(rel, list);
    }
  }
  return { dirs, names, files: n, bytes: n * size };
}

/** read every file once so the timed copy does not pay for a cold page cache */
export async function preRead(...dirs: string[]): Promise<void> {
  for (const d of dirs) await execFileP('sh', ['-c', `tar cf - -C '${d}' . | cat >/dev/null`], { maxBuffer: 1 << 20 });
}

/** lstat every entry (warms dentries and inodes for a metadata-only walk) */
export async function preStat(...dirs: string[]): Promise<void> {
  for (const d of dirs) await execFileP('find', [d, '-printf', ''], { maxBuffer: 1 << 20 });
}

/** Is a copy of `layout` complete under base? Directories found complete are not listed again. */
export class Completion {
  private readonly left: Layout['dirs'];
  private readonly names: Map<string, string[]>;
  private seen = 0;
  constructor(
    readonly base: string,
    layout: Layout,
  ) {
    this.left = [...layout.dirs];
    this.names = layout.names;
  }

  /** true when every file is there (by final name) */
  check(): boolean {
    for (let i = this.left.length - 1; i >= 0; i--) {
      const d = this.left[i];
      let names: string[];
      try {
        names = readdirSync(join(this.base, d.rel));
      } catch {
        continue;
      }
      let n = 0;
      for (const x of names) if (x.charCodeAt(0) !== 46 /* '.' */) n++;
      if (n >= d.files) {
        this.seen += d.files;
        this.left.splice(i, 1);
      }
    }
    return this.left.length === 0;
  }

  get done(): boolean {
    return this.left.length === 0;
  }

  /** up to max relative paths of files not there yet (needs the layout's names: f<6 digits>.bin) */
  missing(max: number): string[] {
    const out: string[] = [];
    for (const d of this.left) {
      let have: Set<string>;
      try {
        have = new Set(readdirSync(join(this.base, d.rel)));
      } catch {
        have = new Set();
      }
      for (const name of this.names.get(d.rel) ?? []) {
        if (!have.has(name)) out.push(`${d.rel}/${name}`);
        if (out.length >= max) return out;
      }
    }
    return out;
  }

  /** files counted so far (complete directories only; for error messages) */
  get count(): number {
    let n = this.seen;
    for (const d of this.left) {
      try {
        n += readdirSync(join(this.base, d.rel)).filter((x) => !x.startsWith('.')).length;
      } catch {
        /* not there yet */
      }
    }
    return n;
  }
}

let trashSeq = 0;
/**
 * Move each path (that exists) into its trash dir, all in one synchronous sweep, so the daemons see
 * deletes whose targets are already gone everywhere (no-ops), and no inode is freed before the end.
 */
export function renameAside(moves: { path: string; trash: string }[]): void {
  const seq = trashSeq++;
  for (const m of moves) mkdirSync(m.trash, { recursive: true });
  for (const m of moves) {
    if (!existsSync(m.path)) continue;
    const name = m.path.split('/').filter(Boolean).slice(-2).join('_');
    renameSync(m.path, join(m.trash, `${seq}-${name}`));
  }
}

export function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
