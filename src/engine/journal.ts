// The durable half of a link's queue: an append-only journal of the paths waiting for one target,
// under the host's state dir. A change is written (and fdatasync'ed) before its event counts as
// handled, so it survives SIGKILL and reboot; a delivered path is marked done. Replaying gives the
// pending paths in order of first change. The file is compacted (rewritten with only live entries,
// then renamed into place) when it holds many more lines than live entries.
//
// Group commit: add() and done() update the in-memory state at once and queue their lines; the
// lines of one event-loop tick go to disk together in one write + fdatasync on the thread pool, and
// lines queued while that is in flight join the next one. What add()/done() return resolves when
// their lines are durable; durable() when everything queued so far is. So "handled" means "its
// promise resolved" (the daemon's snapshot waits for durable()), not "add() returned". A write error
// is sticky: the promises reject and every later add()/done() throws it.
//
// Line format, one JSON array per line (paths may contain any byte but NUL, so they are quoted):
//   ["+", "c"|"d", since, at, path, tree?]   a pending change (later lines for a path update it);
//                                             tree: 1 = rescan the directory, 2 = the whole subtree,
//                                             3 = every directory under it, by what the link knows
//   ["-", path]                               delivered
import { closeSync, fdatasync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, write, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { PendingChange } from '../core/types.js';

interface Group {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

const done0 = Promise.resolve();

export class Journal {
  private fd: number;
  private lines = 0;
  private readonly live = new Map<string, PendingChange>();
  /** lines queued for the next group commit, and who waits for them */
  private buf = '';
  private next: Group | null = null;
  /** the group being written and synced now */
  private flight: Promise<void> | null = null;
  private flying: Group | null = null;
  private kickQueued = false;
  private compactDue = false;
  private closing: Promise<void> | null = null;
  private failure: Error | null = null;
  /** fdatasync calls made (group commits plus synchronous flushes), for tests and measurements */
  syncs = 0;

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
        if (rec[5] === 3) c.full = true;
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

  /** record changes as waiting; resolves when that is durable */
  add(changes: Iterable<PendingChange>): Promise<void> {
    let out = '';
    for (const c of changes) {
      const prev = this.live.get(c.path);
      if (prev) merge(prev, c);
      else this.live.set(c.path, { ...c });
      out += line(c);
      this.lines++;
    }
    return out ? this.queue(out) : this.durable();
  }

  /** record paths as delivered; resolves when that is durable */
  done(paths: Iterable<string>): Promise<void> {
    let out = '';
    for (const p of paths) {
      if (!this.live.delete(p)) continue;
      out += '["-",' + JSON.stringify(p) + ']\n';
      this.lines++;
    }
    const p = out ? this.queue(out) : this.durable();
    if (this.lines > 10_000 && this.lines > 4 * this.live.size) this.compact();
    return p;
  }

  /** resolves when every line queued so far is on disk (rejects after a write error) */
  durable(): Promise<void> {
    if (this.failure) return rejected(this.failure);
    return (this.next ?? this.flying)?.promise ?? done0;
  }

  /** lines for the next group; it starts once this tick's callers have queued theirs */
  private queue(s: string): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closing) throw new Error(`the journal ${this.file} is closed`);
    this.buf += s;
    this.next ??= group();
    if (!this.kickQueued && !this.flight) {
      this.kickQueued = true;
      queueMicrotask(() => {
        this.kickQueued = false;
        this.kick();
      });
    }
    return this.next.promise;
  }

  /** write and sync the queued lines on the thread pool, unless a group is in flight already */
  private kick(): void {
    if (this.flight || !this.buf || this.failure) return;
    const g = this.next!;
    const data = Buffer.from(this.buf);
    this.buf = '';
    this.next = null;
    this.flying = g;
    this.flight = appendAndSync(this.fd, data, () => this.syncs++).then(
      () => {
        this.flight = this.flying = null;
        g.resolve();
        this.afterFlight();
      },
      (err: Error) => {
        this.flight = this.flying = null;
        this.fail(err);
        g.reject(err);
      },
    );
  }

  private afterFlight(): void {
    if (this.compactDue) this.compactNow();
    if (!this.closing) this.kick();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const n = this.next;
    this.next = null;
    this.buf = '';
    n?.reject(this.failure);
  }

  /** rewrite with only the live entries (crash-safe: temp file, fsync, rename); after the group in
   *  flight, if any. Lines still queued are not needed then: the live entries include them. */
  compact(): void {
    if (this.flight) this.compactDue = true;
    else this.compactNow();
  }

  private compactNow(): void {
    this.compactDue = false;
    if (this.failure) return;
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
    this.syncs++;
    closeSync(fd);
    renameSync(tmp, this.file);
    closeSync(this.fd);
    this.fd = openSync(this.file, 'a', 0o600);
    this.lines = this.live.size;
    // what was queued is in the new file
    this.buf = '';
    const n = this.next;
    this.next = null;
    n?.resolve();
  }

  /**
   * Make everything queued durable and close. Synchronous when no group is in flight (then the rest
   * is written here, on the event loop: once, at the end); else after that group. Later add()/done()
   * throw.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    const finish = () => {
      if (this.buf && !this.failure) {
        try {
          writeAll(this.fd, Buffer.from(this.buf));
          fdatasyncSync(this.fd);
          this.syncs++;
          this.buf = '';
          this.next?.resolve();
        } catch (err) {
          this.fail(err as Error);
        }
      }
      this.next = null;
      try {
        closeSync(this.fd);
      } catch {
        /* already closed */
      }
    };
    if (this.flight) {
      this.closing = this.flight.catch(() => {}).then(finish);
    } else {
      finish();
      this.closing = done0;
    }
    return this.closing;
  }

  /** forget everything (the link is gone from the ring) */
  async destroy(): Promise<void> {
    await this.close();
    rmSync(this.file, { force: true });
  }
}

function group(): Group {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {}); // callers that do not wait must not crash the process; the error is sticky
  return { promise, resolve, reject };
}

function rejected(err: Error): Promise<void> {
  const p = Promise.reject(err);
  p.catch(() => {});
  return p;
}

/** append all of data, then fdatasync: on the thread pool */
function appendAndSync(fd: number, data: Buffer, synced: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const more = (off: number) =>
      write(fd, data, off, data.length - off, null, (err, n) => {
        if (err) return reject(err);
        if (off + n < data.length) return more(off + n);
        fdatasync(fd, (e) => {
          if (e) return reject(e);
          synced();
          resolve();
        });
      });
    more(0);
  });
}

function writeAll(fd: number, data: Buffer): void {
  for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
}

/** the same text as JSON.stringify(['+', kind, since, at, path, tree?]), without the array */
function line(c: PendingChange): string {
  return `["+","${c.kind === 'delete' ? 'd' : 'c'}",${num(c.since)},${num(c.at)},${JSON.stringify(c.path)}${c.tree ? (c.deep ? ',2' : c.full ? ',3' : ',1') : ''}]\n`;
}

const num = (n: number) => (Number.isFinite(n) ? String(n) : 'null');

function merge(prev: PendingChange, c: PendingChange): void {
  prev.kind = c.kind;
  prev.at = Math.max(prev.at, c.at);
  if (c.tree) prev.tree = true;
  if (c.deep) prev.deep = true;
  if (c.full) prev.full = true;
}
