// The wire format between a pushing chain and `chain receive` on its successor, over an SSH exec
// channel (receive-client.ts, receive-server.ts). SFTP costs five requests per file (open, write,
// fsetstat, close, rename), each parsed, answered and tracked on both sides; a burst of small files
// spends more CPU on that than on the files. Here a small file is one frame (its path, mode, mtime
// and bytes) and one short answer, many frames to a write.
//
// After the command starts, the receiver prints MARKER; then each side sends frames, every one a
// little-endian u32 length of what follows it, then:
//   put (to the receiver):  u32 id · u32 mode · f64 mtime (seconds) · u16 path length · path (UTF-8,
//                           root-relative) · the file's bytes
//   answer (from it):       u32 id · u8 status (0 done, 1 failed) · when failed: JSON
//                           {name, code?, message, why?}
// Answers may come in any order. The receiver ends when its input does, after answering everything.
import { SMALL_FILE } from './content.js';

/** the receiver's first line: the command started, and speaks this version */
export const MARKER = 'chain-receive 1\n';

/** the largest file sent in one frame (larger ones go over SFTP, in chunks) */
export const MAX_DATA = SMALL_FILE;
const MAX_PATH = 4096;
const PUT_HEAD = 4 + 4 + 8 + 2;
const MAX_FRAME = PUT_HEAD + MAX_PATH + MAX_DATA;

export interface PutFrame {
  id: number;
  mode: number;
  mtime: number;
  path: string;
  data: Buffer;
}

export interface Failure {
  name: string;
  code?: string;
  message: string;
  /** UnsafePathError's reason */
  why?: string;
}

export interface Answer {
  id: number;
  failure?: Failure;
}

/** A frame that cannot be ours: the other side is not speaking this format. */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

export function encodePut(f: PutFrame): Buffer {
  const pathLen = Buffer.byteLength(f.path);
  if (pathLen > MAX_PATH) throw new WireError(`path too long for a frame (${pathLen} bytes): ${f.path}`);
  if (f.data.length > MAX_DATA) throw new WireError(`file too large for a frame (${f.data.length} bytes): ${f.path}`);
  const b = Buffer.allocUnsafe(4 + PUT_HEAD + pathLen + f.data.length);
  b.writeUInt32LE(b.length - 4, 0);
  b.writeUInt32LE(f.id, 4);
  b.writeUInt32LE(f.mode, 8);
  b.writeDoubleLE(f.mtime, 12);
  b.writeUInt16LE(pathLen, 20);
  b.write(f.path, 22, 'utf8');
  f.data.copy(b, 22 + pathLen);
  return b;
}

export function decodePut(body: Buffer): PutFrame {
  if (body.length < PUT_HEAD) throw new WireError(`a put frame of ${body.length} bytes is too short`);
  const pathLen = body.readUInt16LE(16);
  if (PUT_HEAD + pathLen > body.length) throw new WireError(`a put frame's path (${pathLen} bytes) runs past its end`);
  return {
    id: body.readUInt32LE(0),
    mode: body.readUInt32LE(4),
    mtime: body.readDoubleLE(8),
    path: body.toString('utf8', PUT_HEAD, PUT_HEAD + pathLen),
    data: body.subarray(PUT_HEAD + pathLen),
  };
}

const DONE = 0;
const FAILED = 1;

export function encodeAnswer(a: Answer): Buffer {
  if (!a.failure) {
    const b = Buffer.allocUnsafe(9);
    b.writeUInt32LE(5, 0);
    b.writeUInt32LE(a.id, 4);
    b[8] = DONE;
    return b;
  }
  const json = Buffer.from(JSON.stringify(a.failure));
  const b = Buffer.allocUnsafe(9 + json.length);
  b.writeUInt32LE(5 + json.length, 0);
  b.writeUInt32LE(a.id, 4);
  b[8] = FAILED;
  json.copy(b, 9);
  return b;
}

export function decodeAnswer(body: Buffer): Answer {
  if (body.length < 5) throw new WireError(`an answer of ${body.length} bytes is too short`);
  const id = body.readUInt32LE(0);
  if (body[4] === DONE && body.length === 5) return { id };
  if (body[4] !== FAILED) throw new WireError(`an answer with status ${body[4]}`);
  let failure: Failure;
  try {
    failure = JSON.parse(body.toString('utf8', 5)) as Failure;
  } catch {
    throw new WireError('an answer whose failure is not JSON');
  }
  if (typeof failure?.message !== 'string' || typeof failure.name !== 'string') throw new WireError('an answer whose failure has no message');
  return { id, failure };
}

/** Cuts a byte stream into frame bodies (without their length prefix). */
export class FrameReader {
  private rest: Buffer | null = null;

  constructor(private readonly max = MAX_FRAME) {}

  /** the complete frames now readable; WireError on a length no frame of ours has */
  push(chunk: Buffer): Buffer[] {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    const out: Buffer[] = [];
    let at = 0;
    while (buf.length - at >= 4) {
      const len = buf.readUInt32LE(at);
      if (len > this.max) throw new WireError(`a frame of ${len} bytes (at most ${this.max} expected)`);
      if (buf.length - at - 4 < len) break;
      out.push(buf.subarray(at + 4, at + 4 + len));
      at += 4 + len;
    }
    // a partial frame is copied out, so the chunk it came in is not kept whole for it
    this.rest = at === buf.length ? null : Buffer.from(buf.subarray(at));
    return out;
  }

  /** bytes of an incomplete frame held */
  get pending(): number {
    return this.rest?.length ?? 0;
  }
}
