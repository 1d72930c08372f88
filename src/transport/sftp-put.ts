// Sending one file's content into a fresh remote temp file: open it exclusively, write, set mode and
// times, close. Small files take one read and one WRITE; large ones stream in chunks with several
// WRITEs outstanding and never sit whole in memory. The local file is read without following
// symlinks and checked against what the planner saw, so a file that changes mid-send is never
// published as if it were the planned version.
import fs from 'node:fs';
import { promisify } from 'node:util';
import type { Entry } from '../core/types.js';
import { MODE_BITS } from '../core/entry.js';
import { SourceChangedError, type PutOptions } from './remote.js';
import type { SftpChannel } from './sftp-channel.js';

/** Files up to this size are read and written in one piece. */
export const SMALL_FILE = 64 * 1024;
const CHUNK = 256 * 1024;
/** WRITEs outstanding per large file; the channel's buffer limit bounds the total across files */
const WINDOW = 16;

/** Content to send: its size, positional reads, and a last check that it is still what was planned. */
export interface Content {
  readonly size: number;
  /** the whole content, when it is already in memory (small files) */
  readonly whole?: Buffer;
  readAt(buf: Buffer, pos: number): Promise<number>;
  /** throws SourceChangedError when the source no longer matches the plan */
  verify(): Promise<void>;
  close(): Promise<void>;
}

export function bufferContent(data: Buffer): Content {
  return {
    size: data.length,
    whole: data,
    async readAt(buf, pos) {
      return data.copy(buf, 0, pos, pos + buf.length);
    },
    async verify() {},
    async close() {},
  };
}

// nlink 0: the file was deleted (or replaced by a rename) while it was read; publishing it would
// bring back on the target what was just deleted here, and send it on around the ring
function sameAsPlanned(st: { size: number; mtimeMs: number; nlink: number; isFile(): boolean }, expect: Entry): boolean {
  return st.isFile() && st.nlink > 0 && st.size === expect.size && Math.floor(st.mtimeMs / 1000) === expect.mtime;
}

// Raw fds and callbacks rather than FileHandle: thousands of small files a second make the
// FileHandle bookkeeping a visible share of the CPU.
const fsOpen = promisify(fs.open);
const fsFstat = promisify(fs.fstat);
const fsRead = (fd: number, buf: Buffer, off: number, len: number, pos: number) =>
  new Promise<number>((resolve, reject) => fs.read(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));
const fsClose = promisify(fs.close);

/**
 * Open a local file for sending; rel names it in SourceChangedError. O_NOFOLLOW: a file that became
 * a symlink is not what was planned. O_NONBLOCK: one that became a FIFO must not block the open.
 */
export async function localContent(localPath: string, expect: Entry, rel: string): Promise<Content> {
  if (expect.size <= SMALL_FILE) return smallLocalContent(localPath, expect, rel);
  let fd: number;
  try {
    fd = await fsOpen(localPath, OPEN_FLAGS);
  } catch (err) {
    throw openError(err, localPath, rel);
  }
  let closed = false;
  const content: Content = {
    size: expect.size,
    async readAt(buf, pos) {
      let got = 0;
      try {
        while (got < buf.length) {
          const n = await fsRead(fd, buf, got, buf.length - got, pos + got);
          if (n === 0) break;
          got += n;
        }
      } catch (err) {
        throw readError(err, rel);
      }
      return got;
    },
    async verify() {
      if (!sameAsPlanned(await fsFstat(fd), expect)) throw new SourceChangedError(rel);
    },
    async close() {
      if (closed) return;
      closed = true;
      await fsClose(fd);
    },
  };
  // a large file is checked up front too, so a changed one costs no transfer
  try {
    await content.verify();
  } catch (err) {
    await content.close();
    throw err;
  }
  return content;
}

const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

function openError(err: unknown, localPath: string, rel: string): unknown {
  // gone, or replaced by a symlink (ELOOP) or a path through a non-directory: not what was planned
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ELOOP' || code === 'ENOTDIR') return new SourceChangedError(rel);
  if (code === 'EACCES' || code === 'EPERM') {
    const msg = `cannot read ${localPath}: permission denied; make it readable by the user chain runs as (uid ${process.getuid?.()}), or exclude it`;
    return Object.assign(new Error(msg, { cause: err }), { code });
  }
  return err;
}

function readError(err: unknown, rel: string): unknown {
  // now a directory, or a FIFO with nothing in it: changed since planned
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EISDIR' || code === 'EAGAIN' ? new SourceChangedError(rel) : err;
}

/**
 * A small file is read whole with synchronous calls: its pages are almost always in the cache
 * (it was just written), and four thread-pool round trips per file (open, read, fstat, close)
 * cost more CPU than the reads themselves when thousands of files a second are sent. Read first,
 * then checked against the plan, so the bytes sent are the planned version or nothing.
 */
function smallLocalContent(localPath: string, expect: Entry, rel: string): Content {
  let fd: number;
  try {
    fd = fs.openSync(localPath, OPEN_FLAGS);
  } catch (err) {
    throw openError(err, localPath, rel);
  }
  let data: Buffer;
  try {
    data = Buffer.allocUnsafe(expect.size);
    let got = 0;
    try {
      while (got < data.length) {
        const n = fs.readSync(fd, data, got, data.length - got, got);
        if (n === 0) break;
        got += n;
      }
    } catch (err) {
      throw readError(err, rel);
    }
    if (got !== data.length || !sameAsPlanned(fs.fstatSync(fd), expect)) throw new SourceChangedError(rel);
  } finally {
    fs.closeSync(fd);
  }
  return bufferContent(data);
}

async function readExactly(content: Content, buf: Buffer, pos: number, rel: string): Promise<void> {
  if ((await content.readAt(buf, pos)) !== buf.length) throw new SourceChangedError(rel);
}

/**
 * Write content to a new file at tmpAbs (which must not exist) with the mode and mtime of opts.
 * On failure the handle is closed; removing the temp file is the caller's job, and so is holding
 * a slot of ch.files while this runs.
 */
export async function sendContent(ch: SftpChannel, tmpAbs: string, content: Content, opts: PutOptions, rel: string): Promise<void> {
  const small = content.size <= SMALL_FILE;
  let data: Buffer | undefined;
  if (small) {
    // read and check before touching the remote: a changed file costs no round trip
    if (content.whole) data = content.whole;
    else {
      data = Buffer.allocUnsafe(content.size);
      await readExactly(content, data, 0, rel);
      await content.verify();
    }
  }
  const attrs = { mode: opts.mode & MODE_BITS, atime: Math.floor(Date.now() / 1000), mtime: opts.mtime };
  // 0600 until fsetstat: nobody reads a half-written file through a permissive mode
  const handle = await ch.open(tmpAbs, 'wx', 0o600);
  let closed = false;
  try {
    if (!small) await streamChunks(ch, tmpAbs, handle, content, rel);
    if (!small) await content.verify();
    // requests on one handle are processed in order, so these need not wait for each other
    const steps: Promise<void>[] = [];
    if (data && data.length > 0) steps.push(ch.write(tmpAbs, handle, data, 0));
    steps.push(ch.fsetstat(tmpAbs, handle, attrs));
    closed = true;
    steps.push(ch.close(tmpAbs, handle));
    await settleAll(steps);
  } catch (err) {
    if (!closed) await ch.close(tmpAbs, handle).catch(() => {});
    throw err;
  }
}

async function streamChunks(ch: SftpChannel, tmpAbs: string, handle: Buffer, content: Content, rel: string): Promise<void> {
  const chunk = Math.min(CHUNK, ch.maxWrite);
  const inflight = new Set<Promise<void>>();
  let firstErr: unknown;
  let pos = 0;
  while (pos < content.size && firstErr === undefined) {
    const at = pos;
    const len = Math.min(chunk, content.size - at);
    pos += len;
    const task = (async () => {
      const release = await ch.buffers.acquire();
      try {
        if (firstErr !== undefined) return;
        const buf = Buffer.allocUnsafe(len);
        await readExactly(content, buf, at, rel);
        await ch.write(tmpAbs, handle, buf, at);
      } finally {
        release();
      }
    })().catch((err) => {
      firstErr ??= err;
    });
    inflight.add(task);
    void task.then(() => inflight.delete(task));
    if (inflight.size >= WINDOW) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  if (firstErr !== undefined) throw firstErr;
}

/** Wait for every promise, then throw the first failure (so nothing is still running afterwards). */
async function settleAll(ps: Promise<unknown>[]): Promise<void> {
  const rs = await Promise.allSettled(ps);
  const bad = rs.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (bad) throw bad.reason;
}
