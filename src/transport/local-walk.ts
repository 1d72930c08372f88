// A whole local tree in one pass, by GNU find in a child process: the lstat data of every entry
// (type, size, mtime, mode, link target) without a Stats object (and its four Dates) per entry in
// this process, and on another CPU. A repair lists a million entries this way. Pre-order (a
// directory before what is in it); symlinks are never followed; <dir>/.chain is pruned.
// FindOutput parses find's output straight from the bytes: one string per path (and per link
// target), no other allocation per entry but the Entry handed on; ssh-walk.ts runs the same find
// on a remote host and parses its output with it (findArgs, findOutcome).
import { spawn } from 'node:child_process';
import type { Entry, EntryType } from '../core/types.js';
import { MODE_BITS } from '../core/entry.js';
import { STATE_DIR } from '../core/names.js';

// three NUL-terminated fields per entry: "type depth size mtime mode", the path, the link target
// (the depth tells the walker which open directory an entry is in, without comparing paths)
const FORMAT = '%y %d %s %T@ %m\\0%P\\0%l\\0';

/** an entry found: rel to the start, its depth below it (1: directly in it) */
export type OnFound = (rel: string, e: Entry, depth: number) => void;

const SPACE = 0x20;
const DOT = 0x2e;
const MINUS = 0x2d;

function typeOf(c: number): EntryType {
  switch (c) {
    case 0x66: // f
      return 'file';
    case 0x64: // d
      return 'dir';
    case 0x6c: // l
      return 'symlink';
    default:
      return 'other';
  }
}

/** Incremental parser of find's `-printf '%y %d %s %T@ %m\0%P\0%l\0'` output, fed in any chunks. */
export class FindOutput {
  /** entries parsed so far */
  count = 0;
  // the unfinished entry carried over from the previous chunk (usually empty)
  private rest: Buffer | null = null;

  constructor(private readonly onEntry: OnFound) {}

  push(chunk: Buffer): void {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = null;
    const end = buf.length;
    let start = 0;
    for (;;) {
      const a = buf.indexOf(0, start);
      if (a === -1) break;
      const b = buf.indexOf(0, a + 1);
      if (b === -1) break;
      const c = buf.indexOf(0, b + 1);
      if (c === -1) break;
      this.entry(buf, start, a, b, c);
      start = c + 1;
    }
    if (start < end) this.rest = Buffer.from(buf.subarray(start)); // (a copy: the chunk is not kept)
  }

  /** the output ended: anything left over was cut short */
  end(): void {
    if (this.rest && this.rest.length) throw new Error(`find's output ended in the middle of an entry (${this.rest.length} bytes)`);
  }

  // head at [s, a), path at [a+1, b), link target at [b+1, c)
  private entry(buf: Buffer, s: number, a: number, b: number, c: number): void {
    const type = typeOf(buf[s]!);
    let i = s + 2;
    let depth = 0;
    for (let ch = buf[i]!; ch !== SPACE && i < a; ch = buf[++i]!) depth = depth * 10 + (ch - 48);
    i++;
    let size = 0;
    for (let ch = buf[i]!; ch !== SPACE && i < a; ch = buf[++i]!) size = size * 10 + (ch - 48);
    i++;
    let neg = false;
    if (buf[i] === MINUS) {
      neg = true;
      i++;
    }
    let mtime = 0;
    for (let ch = buf[i]!; ch !== SPACE && ch !== DOT && i < a; ch = buf[++i]!) mtime = mtime * 10 + (ch - 48);
    let frac = false;
    if (buf[i] === DOT) for (i++; buf[i] !== SPACE && i < a; i++) if (buf[i] !== 48) frac = true;
    // whole seconds, rounded down as Math.floor would (before 1970 too)
    if (neg) mtime = frac ? -mtime - 1 : -mtime;
    i++;
    let mode = 0;
    for (; i < a; i++) mode = mode * 8 + (buf[i]! - 48);
    const e: Entry = { type, size, mtime, mode: mode & MODE_BITS };
    if (type === 'symlink') e.target = buf.toString('utf8', b + 1, c);
    this.count++;
    this.onEntry(buf.toString('utf8', a + 1, b), e, depth);
  }
}

/**
 * Calls onEntry(rel, entry) for everything below absDir (rel relative to it). Resolves false when
 * GNU find is not there to do it (the caller lists directory by directory instead); rejects when
 * something could not be listed (permission denied, ...), naming it.
 */
export function findWalk(absDir: string, onEntry: OnFound): Promise<boolean> {
  const args = findArgs(absDir);
  return new Promise((resolve, reject) => {
    const child = spawn('find', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let failed: unknown;
    const out = new FindOutput(onEntry);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      if (failed !== undefined) return;
      try {
        out.push(chunk);
      } catch (err) {
        failed = err; // (onEntry threw): reported when find is done
        child.kill();
      }
    });
    child.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? resolve(false) : reject(err)));
    child.once('close', (code) => {
      if (failed !== undefined) return reject(failed);
      try {
        resolve(findOutcome(absDir, code, stderr, out));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** find's arguments for listing everything below absDir, <absDir>/.chain pruned */
export function findArgs(absDir: string): string[] {
  const glob = (s: string) => s.replace(/[[\]*?\\]/g, '\\$&');
  return [`${absDir}/`, '-mindepth', '1', '(', '-path', glob(`${absDir}/${STATE_DIR}`), '-prune', ')', '-o', '-printf', FORMAT];
}

/**
 * What a finished find run means: true (all listed), false (a find that cannot do it: list
 * another way), or it throws (something could not be listed, or the output was cut short).
 */
export function findOutcome(absDir: string, code: number | null, stderr: string, out: FindOutput): boolean {
  if (code === 0) {
    out.end();
    return true;
  }
  // a find without -printf (busybox): let the caller walk by itself
  if (out.count === 0 && /printf|unknown|unrecognized|invalid/i.test(stderr)) return false;
  // an entry removed while find went by is simply not listed (but a root that went, with nothing
  // listed, is not an empty tree)
  const trouble = stderr.split('\n').filter((l) => l.trim() && !/No such file or directory/.test(l));
  if (code !== null && trouble.length === 0 && out.count > 0) {
    out.end();
    return true;
  }
  const err: NodeJS.ErrnoException = new Error(`cannot list everything under ${absDir}: ${trouble.slice(0, 3).join('; ') || `find ended with ${code === null ? 'no exit status' : `status ${code}`}`}`);
  err.code = /Permission denied/.test(stderr) ? 'EACCES' : 'EIO';
  throw err;
}
