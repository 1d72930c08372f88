// The receiving end of receive-wire.ts: `chain receive ROOT`, started over SSH by the host that
// pushes to this one. Each file is written by LocalRemote.putWholeSync, with the rules of every
// other write: a temp name under <root>/.chain/tmp (or beside the target), mode and mtime set, then
// renamed over the target; nothing outside the root, no write through a symlinked directory. It
// can do nothing the SSH user could not do over SFTP.
import { hostname } from 'node:os';
import { LocalRemote, type DirCheck } from './local.js';
import { FrameReader, MARKER, WireError, decodePut, encodeAnswer, type Failure } from './receive-wire.js';

export interface ReceiveIo {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** told each file written (its root-relative path), after its rename */
  onWrite?: (rel: string) => void;
}

/** Receive until the input ends; resolves when every file is answered. Rejects with WireError on
 *  input that is not ours (nothing more is read then). */
export function receive(root: string, io: ReceiveIo): Promise<void> {
  const local = new LocalRemote(root, hostname());
  const reader = new FrameReader();
  return new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      const answers: Buffer[] = [];
      try {
        // the files of one read share their directory checks (written within milliseconds)
        const dirs = new Map<string, DirCheck>();
        for (const body of reader.push(chunk)) {
          const f = decodePut(body);
          try {
            local.putWholeSync(f.path, f.data, { mode: f.mode, mtime: f.mtime }, dirs);
            answers.push(encodeAnswer({ id: f.id }));
            io.onWrite?.(f.path);
          } catch (err) {
            answers.push(encodeAnswer({ id: f.id, failure: failureOf(err) }));
          }
        }
      } catch (err) {
        // not our format: what was written is answered, nothing more is read
        io.input.removeListener('data', onData);
        reject(err);
      }
      if (answers.length > 0) io.output.write(answers.length === 1 ? answers[0]! : Buffer.concat(answers));
    };
    io.input.on('data', onData);
    io.input.on('end', () => {
      if (reader.pending > 0) return reject(new WireError(`the input ended inside a frame (${reader.pending} bytes)`));
      // everything read was answered; the answers are flushed before the process exits
      io.output.write('', () => resolve());
    });
    io.input.on('error', reject);
    io.output.write(MARKER);
  });
}

function failureOf(err: unknown): Failure {
  const e = err as { name?: unknown; code?: unknown; message?: unknown; why?: unknown };
  const f: Failure = { name: typeof e?.name === 'string' ? e.name : 'Error', message: typeof e?.message === 'string' ? e.message : String(err) };
  if (typeof e?.code === 'string') f.code = e.code;
  if (typeof e?.why === 'string') f.why = e.why;
  return f;
}
