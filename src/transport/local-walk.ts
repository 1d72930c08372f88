// A whole local tree in one pass, by GNU find in a child process: the lstat data of every entry
// (type, size, mtime, mode, link target) without a Stats object (and its four Dates) per entry in
// this process, and on another CPU. A repair lists a million entries this way. Pre-order (a
// directory before what is in it); symlinks are never followed; <dir>/.chain is pruned.
import { spawn } from 'node:child_process';
import type { Entry, EntryType } from '../core/types.js';
import { MODE_BITS } from '../core/entry.js';
import { STATE_DIR } from '../core/names.js';

const TYPES: Record<string, EntryType> = { f: 'file', d: 'dir', l: 'symlink' };
// three NUL-terminated fields per entry: "type size mtime mode", the path, the link target
const FORMAT = '%y %s %T@ %m\\0%P\\0%l\\0';

/**
 * Calls onEntry(rel, entry) for everything below absDir (rel relative to it). Resolves false when
 * GNU find is not there to do it (the caller lists directory by directory instead); rejects when
 * something could not be listed (permission denied, ...), naming it.
 */
export function findWalk(absDir: string, onEntry: (rel: string, e: Entry) => void): Promise<boolean> {
  const glob = (s: string) => s.replace(/[[\]*?\\]/g, '\\$&');
  const args = [`${absDir}/`, '-mindepth', '1', '(', '-path', glob(`${absDir}/${STATE_DIR}`), '-prune', ')', '-o', '-printf', FORMAT];
  return new Promise((resolve, reject) => {
    const child = spawn('find', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let parsed = 0;
    let rest: Buffer = Buffer.alloc(0);
    const fields: string[] = [];
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      const buf = rest.length ? Buffer.concat([rest, chunk]) : chunk;
      let start = 0;
      for (let i = buf.indexOf(0, start); i !== -1; i = buf.indexOf(0, start)) {
        fields.push(buf.toString('utf8', start, i));
        start = i + 1;
        if (fields.length === 3) {
          const [head, rel, target] = fields as [string, string, string];
          fields.length = 0;
          const [t, size, mtime, mode] = head.split(' ');
          const e: Entry = { type: TYPES[t!] ?? 'other', size: Number(size), mtime: Math.floor(Number(mtime)), mode: parseInt(mode!, 8) & MODE_BITS };
          if (e.type === 'symlink') e.target = target;
          parsed++;
          onEntry(rel, e);
        }
      }
      rest = buf.subarray(start);
    });
    child.once('error', (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? resolve(false) : reject(err)));
    child.once('close', (code) => {
      // an entry removed while find went by is simply not listed
      const trouble = stderr.split('\n').filter((l) => l.trim() && !/No such file or directory/.test(l));
      if (code === 0 || trouble.length === 0) return resolve(true);
      // a find without -printf (busybox): let the caller walk by itself
      if (parsed === 0 && /printf|unknown|unrecognized|invalid/i.test(stderr)) return resolve(false);
      const err: NodeJS.ErrnoException = new Error(`cannot list everything under ${absDir}: ${trouble.slice(0, 3).join('; ')}`);
      err.code = /Permission denied/.test(stderr) ? 'EACCES' : 'EIO';
      reject(err);
    });
  });
}
