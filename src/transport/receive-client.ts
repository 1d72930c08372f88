// The pushing end of receive-wire.ts: `chain receive ROOT` started on the target over the SSH
// session (an exec channel beside the SFTP one), small new files sent to it as frames. Started when
// the connection opens; until its marker line arrives, and for good when something else answers
// (an SFTP-only account, a forced command, no chain or another version of it on the host), every
// file goes over SFTP as before: usable says which.
import type { Client, ClientChannel } from 'ssh2';
import { UnsafePathError } from '../core/paths.js';
import { FrameReader, MARKER, decodeAnswer, encodePut, type Failure } from './receive-wire.js';
import { SftpError, type SftpErrorKind } from './sftp-errors.js';
import { MarkerLine } from './marker-line.js';
import { shellQuote } from './ssh-walk.js';

/** the command run on the host: the configured receiver command, `receive`, the root */
export function receiveCommand(command: string, absRoot: string): string {
  return `${command} receive ${shellQuote(absRoot)}`;
}

interface Waiting {
  resolve: () => void;
  reject: (err: unknown) => void;
  rel: string;
  abs: string;
}

export class ReceiveClient {
  private channel: ClientChannel | null = null;
  private state: 'starting' | 'ready' | 'gone' = 'starting';
  private readonly marker = new MarkerLine(MARKER);
  private readonly reader = new FrameReader(64 * 1024);
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private out: Buffer[] = [];
  private outBytes = 0;
  private scheduled = false;
  private stderr = '';
  private code: number | null = null;
  /** why files go over SFTP instead (once known) */
  why = '';
  /** settles once it is known whether the receiver answered (true) or not (false) */
  readonly started: Promise<boolean>;
  private onStarted!: (ok: boolean) => void;

  constructor(
    client: Client,
    private readonly host: string,
    absRoot: string,
    private readonly command: string,
  ) {
    this.started = new Promise((resolve) => (this.onStarted = resolve));
    try {
      client.exec(receiveCommand(command, absRoot), (err, channel) => (err ? this.gone(`the host runs no command for us (${err.message})`) : this.listen(channel)));
    } catch (err) {
      this.gone(`the connection is not usable (${(err as Error).message})`);
    }
  }

  /** true while files can be sent this way */
  get usable(): boolean {
    return this.state === 'ready';
  }

  private listen(channel: ClientChannel): void {
    this.channel = channel;
    if (this.state === 'gone') return void channel.close();
    channel.stderr.on('data', (d: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += d.toString();
    });
    channel.on('data', (chunk: Buffer) => this.data(chunk));
    channel.on('exit', (c: unknown) => (this.code = typeof c === 'number' ? c : null));
    channel.on('close', () => {
      const said = this.stderr.trim().split('\n').slice(-1)[0];
      const exit = this.code === null ? 'no exit status' : `exit ${this.code}`;
      const what = this.state === 'starting' ? `"${this.command} receive" did not start there` : 'the receiver ended';
      this.gone(`${what} (${exit}${said ? `: ${said}` : ''})`);
    });
  }

  private data(chunk: Buffer): void {
    if (this.state === 'gone') return;
    if (this.state === 'starting') {
      const after = this.marker.push(chunk);
      if (after === 'wait') return;
      if (after === 'foreign') return this.gone(`something else answered: ${JSON.stringify(this.marker.received)}`);
      this.state = 'ready';
      this.onStarted(true);
      chunk = after;
      if (chunk.length === 0) return;
    }
    let bodies: Buffer[];
    try {
      bodies = this.reader.push(chunk);
      for (const body of bodies) {
        const a = decodeAnswer(body);
        const w = this.waiting.get(a.id);
        if (!w) throw new Error(`an answer for file #${a.id}, which was not sent`);
        this.waiting.delete(a.id);
        if (a.failure) w.reject(this.failure(a.failure, w));
        else w.resolve();
      }
    } catch (err) {
      this.gone(`its answers could not be read: ${(err as Error).message}`);
    }
  }

  /**
   * Write a small file at rel (root-relative; its directory exists) with mode and mtime, atomically,
   * as SftpRemote.put does. Only while usable.
   */
  put(rel: string, abs: string, data: Buffer, mode: number, mtime: number): Promise<void> {
    if (this.state !== 'ready') return Promise.reject(this.lost(abs));
    const id = this.nextId++;
    if (this.nextId > 0xffffffff) this.nextId = 1;
    const frame = encodePut({ id, mode, mtime, path: rel, data });
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, rel, abs });
      this.out.push(frame);
      this.outBytes += frame.length;
      // the frames of one turn of the event loop leave in one write (one SSH packet per 32 KiB)
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.out.length === 0 || !this.channel || this.state !== 'ready') return;
    const all = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out, this.outBytes);
    this.out = [];
    this.outBytes = 0;
    this.channel.write(all);
  }

  /** the receiver's failure as the error SftpRemote.put would have thrown for it */
  private failure(f: Failure, w: Waiting): Error {
    if (f.name === 'UnsafePathError') return new UnsafePathError(w.rel, f.why ?? f.message);
    const kind: SftpErrorKind = KIND[f.code ?? ''] ?? 'failure';
    return new SftpError(kind, this.host, w.abs, `${this.host}: cannot write ${w.abs}: ${f.message}`);
  }

  private lost(abs: string): SftpError {
    return new SftpError('connection-lost', this.host, abs, `${this.host}: cannot write ${abs}: ${this.why || 'the receiver is not running'}`);
  }

  private gone(why: string): void {
    if (this.state === 'gone') return;
    this.state = 'gone';
    this.why = why;
    this.onStarted(false);
    for (const w of this.waiting.values()) w.reject(this.lost(w.abs));
    this.waiting.clear();
    this.out = [];
    this.outBytes = 0;
    try {
      this.channel?.close();
    } catch {
      /* closed already */
    }
  }

  /** end the receiver: what was not answered yet fails as a lost connection would */
  close(): void {
    this.gone('closed');
  }
}

const KIND: Record<string, SftpErrorKind> = {
  ENOENT: 'no-such-file',
  EACCES: 'permission-denied',
  EPERM: 'permission-denied',
  ENOTDIR: 'not-a-directory',
};
