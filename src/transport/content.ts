// Content to send, read from a local file without following symlinks and checked against what
// the planner saw, so a file that changes mid-send is never published as if it were the planned
// version. Small files are read whole at once; large ones are read in positional chunks.
import fs from 'node:fs';
import { promisify } from 'node:util';
import type { Entry } from '../core/types.js';
import { SourceChangedError, type FileReader } from './remote.js';

/** Files up to this size are read and written in one piece. */
export const SMALL_FILE = 64 * 1024;

/** Content to send: a FileReader (its size, positional reads, a last check that it is still what
 *  was planned), here one that reads a local file or a buffer. */
export type Content = FileReader;

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
 * then checked against the plan, so the bytes sent are the planned version or nothing; verify()
 * checks the path still holds exactly that file.
 */
function smallLocalContent(localPath: string, expect: Entry, rel: string): Content {
  let fd: number;
  try {
    fd = fs.openSync(localPath, OPEN_FLAGS);
  } catch (err) {
    throw openError(err, localPath, rel);
  }
  let data: Buffer;
  let st: fs.Stats;
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
    st = fs.fstatSync(fd);
    if (got !== data.length || !sameAsPlanned(st, expect)) throw new SourceChangedError(rel);
  } finally {
    fs.closeSync(fd);
  }
  const read = st;
  return {
    ...bufferContent(data),
    // still the file that was read (same inode, size and full-precision mtime) right before it is
    // published: a file rewritten meanwhile is sent again (watch), or planned again (repair)
    async verify() {
      const now = fs.lstatSync(localPath, { throwIfNoEntry: false });
      if (!now || now.ino !== read.ino || now.size !== read.size || now.mtimeMs !== read.mtimeMs || !now.isFile()) throw new SourceChangedError(rel);
    },
  };
}
