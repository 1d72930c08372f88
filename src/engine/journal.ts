// The durable half of a link's queue: an append-only journal of the paths waiting for one target,
// under the host's state dir. A change is written (and fdatasync'ed) before its event counts as
// handled, so it survives SIGKILL and reboot; a delivered path is marked done. Replaying gives the
// pending paths in order of first change. The file is compacted (rewritten with only live entries,
// then renamed into place) when it holds many more lines than live entries.
//
// Line format, one JSON array per line (paths may contain any byte but NUL, so they are quoted):
//   ["+", "c"|"d", since, at, path, tree?]   a pending change (later lines for a path update it);
//                                             tree: 1 = rescan the directory, 2 = the whole subtree
//   ["-", path]                               delivered
import { closeSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PendingChange } from '../core/types.js';

export class Journal {
  private fd: number;
  private lines = 0;
  private readonly live = new Map<string, PendingChange>();

  /** opens (creating) the journal and replays it; `pending` is what was waiting */
  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      let rec: unknown[];
      try {
        rec = JSON.parse(line);
      } catch {
        continue; // a torn last line after a crash
      }
      this.lines++;
      if (rec[0] === '+' && typeof rec[4] === 'string') {
        const path = rec[4];
        const prev = this.live.get(path);
        const c: PendingChange = { path, kind: rec[1] === 'd' ? 'delete' : 'change', since: Number(rec[2]), at: Number(rec[3]) };
        if (rec[5]) c.tree = true;
        if (rec[5] === 2) c.deep = true;
        if (prev) merge(prev, c);
        else this.live.set(path, c);
      } else if (rec[0] === '-' && typeof rec[1] === 'string') this.live.delete(rec[1]);
    }
    this.fd = openSync(file, 'a', 0o600);
    if (this.lines > 1000 && this.lines > 2 * this.live.size) this.compact();
  }

  /** what was waiting when the journal was opened, plus what was added since and not delivered */
  pending(): PendingChange[] {
    return [...this.live.values()].map((c) => ({ ...c }));
  }

  get size(): number {
    return this.live.size;
  }

  /** record changes as waiting (durable when this returns) */
  add(changes: Iterable<PendingChange>): void {
    let out = '';
    for (const c of changes) {
      const prev = this.live.get(c.path);
      if (prev) merge(prev, c);
      else this.live.set(c.path, { ...c });
      out += line(c);
      this.lines++;
    }
    if (out) this.write(out);
  }

  /** record paths as delivered */
  done(paths: Iterable<string>): void {
    let out = '';
    for (const p of paths) {
      if (!this.live.delete(p)) continue;
      out += JSON.stringify(['-', p]) + '\n';
      this.lines++;
    }
    if (out) this.write(out);
    if (this.lines > 10_000 && this.lines > 4 * this.live.size) this.compact();
  }

  private write(s: string): void {
    writeSync(this.fd, s);
    fdatasyncSync(this.fd);
  }

  /** rewrite with only the live entries (crash-safe: temp file, fsync, rename) */
  compact(): void {
    const tmp = `${this.file}.compact`;
    const fd = openSync(tmp, 'w', 0o600);
    let out = '';
    for (const c of this.live.values()) {
      out += line(c);
      if (out.length > 1 << 20) {
        writeSync(fd, out);
        out = '';
      }
    }
    if (out) writeSync(fd, out);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.file);
    closeSync(this.fd);
    this.fd = openSync(this.file, 'a', 0o600);
    this.lines = this.live.size;
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }

  /** forget everything (the link is gone from the ring) */
  destroy(): void {
    this.close();
    rmSync(this.file, { force: true });
  }
}

function line(c: PendingChange): string {
  return JSON.stringify(['+', c.kind === 'delete' ? 'd' : 'c', c.since, c.at, c.path, ...(c.tree ? [c.deep ? 2 : 1] : [])]) + '\n';
}

function merge(prev: PendingChange, c: PendingChange): void {
  prev.kind = c.kind;
  prev.at = Math.max(prev.at, c.at);
  if (c.tree) prev.tree = true;
  if (c.deep) prev.deep = true;
}
