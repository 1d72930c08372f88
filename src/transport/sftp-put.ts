// Sending one file's content into a fresh remote temp file: open it exclusively, write, set mode and
// times, close. Small files take one read and one WRITE; large ones stream in chunks with several
// WRITEs outstanding and never sit whole in memory. What is read comes from content.ts (a local
// file, checked against the plan) or from another host's FileReader (repair).
import { MODE_BITS } from '../core/entry.js';
import { SourceChangedError, type PutOptions } from './remote.js';
import type { SftpChannel } from './sftp-channel.js';
import { SMALL_FILE, type Content } from './content.js';

export { SMALL_FILE, bufferContent, localContent, type Content } from './content.js';

const CHUNK = 256 * 1024;
/** WRITEs outstanding per large file; the channel's buffer limit bounds the total across files */
const WINDOW = 16;

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
    // read whole at open: checked once more now, right before the caller publishes it
    if (content.whole) await content.verify();
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
