// Promise-returning SFTP requests on one ssh2 channel, each holding a slot of a shared limit so many
// are in flight at once (SFTP is pipelined: latency is hidden by having requests outstanding, not
// by waiting for each). Paths here are absolute remote paths; SftpRemote owns the root rules.
import type { SFTPWrapper, Stats, InputAttributes, FileEntryWithStats } from 'ssh2';
import { Limit } from './limit.js';
import { batchRequests } from './sftp-batch.js';
import { SftpError, SFTP_STATUS, sftpError } from './sftp-errors.js';

export interface ChannelOptions {
  /** requests outstanding at once (default 1024: a server's queue stays full even when every
   *  file costs three round trips of a long link) */
  maxRequests?: number;
  /** files being sent at once: each holds a local fd and a remote handle (default 256; at most half
   *  the handles the server says it allows) */
  maxFiles?: number;
  /** other handles (directory listings, reads) open at once (default 256: a copy read from this
   *  host keeps its source open until the target has it, so this bounds such copies in flight) */
  maxHandles?: number;
  /** large-file chunks read but not yet written, across all files (default 64 × 256 KiB) */
  maxBuffers?: number;
}

type Cb<T> = (err: Error | null | undefined, res?: T) => void;

export class SftpChannel {
  readonly requests: Limit;
  readonly files: Limit;
  readonly handles: Limit;
  readonly buffers: Limit;
  private dead: SftpError | undefined;
  // rejecters of requests in flight, so a closed channel fails them at once instead of never
  private readonly pending = new Set<(err: SftpError) => void>();

  constructor(
    readonly sftp: SFTPWrapper,
    readonly host: string,
    opts: ChannelOptions = {},
  ) {
    // the server's own bound on open handles (limits@openssh.com), shared by files and listings
    const serverHandles = (sftp as unknown as { maxOpenHandles?: number }).maxOpenHandles;
    const handleCap = serverHandles !== undefined && Number.isFinite(serverHandles) ? Math.max(1, Math.floor(serverHandles / 2)) : Infinity;
    this.requests = new Limit(opts.maxRequests ?? 1024);
    this.files = new Limit(Math.min(opts.maxFiles ?? 256, handleCap));
    this.handles = new Limit(Math.min(opts.maxHandles ?? 256, handleCap));
    this.buffers = new Limit(opts.maxBuffers ?? 64);
    batchRequests(sftp);
    const onGone = (err?: Error) => this.kill(err);
    sftp.on('close', () => onGone());
    sftp.on('end', () => onGone());
    sftp.on('error', (err: Error) => onGone(err));
  }

  get closed(): boolean {
    return this.dead !== undefined;
  }

  /** Mark the channel gone and fail everything in flight. */
  kill(cause?: Error): void {
    if (this.dead) return;
    this.dead = new SftpError('connection-lost', this.host, '', `${this.host}: the SFTP connection closed${cause ? `: ${cause.message}` : ''}`, { cause });
    for (const reject of this.pending) reject(this.dead);
    this.pending.clear();
  }

  /** true when the server offers this extension (e.g. "posix-rename@openssh.com") */
  hasExtension(name: string): boolean {
    const ext = (this.sftp as unknown as { _extensions?: Record<string, string> })._extensions;
    return !!ext && ext[name] !== undefined;
  }

  /** the largest WRITE payload the server accepts in one request (limits@openssh.com), else 32 KiB */
  get maxWrite(): number {
    const n = (this.sftp as unknown as { _maxWriteLen?: number })._maxWriteLen;
    return typeof n === 'number' && n > 0 ? n : 32 * 1024;
  }

  /** the largest READ answer the server sends for one request (limits@openssh.com), else 32 KiB */
  get maxRead(): number {
    const n = (this.sftp as unknown as { _maxReadLen?: number })._maxReadLen;
    return typeof n === 'number' && n > 0 ? n : 32 * 1024;
  }

  private req<T>(op: string, path: string, fn: (cb: Cb<T>) => void): Promise<T> {
    // a free slot is taken at once: tens of thousands of requests a second should not each wait a turn
    const slot = this.requests.tryAcquire();
    if (slot) return this.send(op, path, fn, slot);
    return this.requests.acquire().then((release) => this.send(op, path, fn, release));
  }

  private send<T>(op: string, path: string, fn: (cb: Cb<T>) => void, release: () => void): Promise<T> {
    if (this.dead) {
      release();
      return Promise.reject(this.dead);
    }
    return new Promise<T>((resolve, reject) => {
      const fail = (err: SftpError) => {
        this.pending.delete(fail);
        release();
        reject(err.path === '' ? new SftpError(err.kind, err.host, path, `${err.message} (${op} ${path})`, { cause: err }) : err);
      };
      this.pending.add(fail);
      try {
        fn((err, res) => {
          if (!this.pending.delete(fail)) return; // already failed by kill()
          release();
          if (err) reject(sftpError(err, this.host, op, path));
          else resolve(res as T);
        });
      } catch (err) {
        // ssh2 throws synchronously for e.g. an extension the server lacks
        fail(sftpError(err, this.host, op, path));
      }
    });
  }

  lstat(path: string): Promise<Stats> {
    return this.req('lstat', path, (cb) => this.sftp.lstat(path, cb));
  }
  stat(path: string): Promise<Stats> {
    return this.req('stat', path, (cb) => this.sftp.stat(path, cb));
  }
  /** lstat, or null when the path does not exist */
  async lstatOrNull(path: string): Promise<Stats | null> {
    try {
      return await this.lstat(path);
    } catch (err) {
      if (err instanceof SftpError && err.code === SFTP_STATUS.NO_SUCH_FILE) return null;
      throw err;
    }
  }
  readlink(path: string): Promise<string> {
    return this.req('readlink', path, (cb) => this.sftp.readlink(path, cb));
  }
  open(path: string, flags: 'wx' | 'r', mode?: number): Promise<Buffer> {
    return this.req('open', path, (cb) => this.sftp.open(path, flags, mode === undefined ? {} : { mode }, cb));
  }
  write(path: string, handle: Buffer, buf: Buffer, position: number): Promise<void> {
    return this.req('write', path, (cb) => this.sftp.write(handle, buf, 0, buf.length, position, cb));
  }
  read(path: string, handle: Buffer, buf: Buffer, position: number): Promise<number> {
    return this.req('read', path, (cb: Cb<number>) => this.sftp.read(handle, buf, 0, buf.length, position, (err, n) => cb(err, n)));
  }
  fstat(path: string, handle: Buffer): Promise<Stats> {
    return this.req('fstat', path, (cb) => this.sftp.fstat(handle, cb));
  }
  fsetstat(path: string, handle: Buffer, attrs: InputAttributes): Promise<void> {
    return this.req('set attributes of', path, (cb) => this.sftp.fsetstat(handle, attrs, cb));
  }
  close(path: string, handle: Buffer): Promise<void> {
    return this.req('close', path, (cb) => this.sftp.close(handle, cb));
  }
  opendir(path: string): Promise<Buffer> {
    return this.req('open directory', path, (cb) => this.sftp.opendir(path, cb));
  }
  /** one READDIR batch, or null at the end of the directory */
  async readdirChunk(path: string, handle: Buffer): Promise<FileEntryWithStats[] | null> {
    try {
      // EOF ends every listing (up to READDIR_DEPTH times per directory): answered as null here,
      // without building an SftpError (and its stack trace) for it
      return await this.req('list', path, (cb: Cb<FileEntryWithStats[] | null>) =>
        this.sftp.readdir(handle, (err, list) => (err && (err as { code?: unknown }).code === SFTP_STATUS.EOF ? cb(null, null) : cb(err, list))),
      );
    } catch (err) {
      if (err instanceof SftpError && err.code === SFTP_STATUS.EOF) return null;
      throw err;
    }
  }
  mkdir(path: string, mode?: number): Promise<void> {
    return this.req('create directory', path, (cb) => this.sftp.mkdir(path, mode === undefined ? {} : { mode }, cb));
  }
  rmdir(path: string): Promise<void> {
    return this.req('remove directory', path, (cb) => this.sftp.rmdir(path, cb));
  }
  unlink(path: string): Promise<void> {
    return this.req('remove', path, (cb) => this.sftp.unlink(path, cb));
  }
  /** create a symlink at linkPath pointing to target (ssh2 swaps the arguments OpenSSH expects) */
  symlink(target: string, linkPath: string): Promise<void> {
    return this.req('create symlink', linkPath, (cb) => this.sftp.symlink(target, linkPath, cb));
  }
  setstat(path: string, attrs: InputAttributes): Promise<void> {
    return this.req('set attributes of', path, (cb) => this.sftp.setstat(path, attrs, cb));
  }
  /** setstat that does not follow a final symlink (lsetstat@openssh.com) */
  lsetstat(path: string, attrs: InputAttributes): Promise<void> {
    return this.req('set attributes of', path, (cb) => this.sftp.ext_openssh_lsetstat(path, attrs, cb));
  }

  /**
   * Rename replacing the destination atomically (posix-rename@openssh.com). Plain SFTP v3 rename
   * refuses an existing destination, so without the extension the destination is removed first:
   * not atomic, but the only way on such servers.
   */
  async rename(from: string, to: string): Promise<void> {
    if (this.hasExtension('posix-rename@openssh.com')) {
      return this.req('rename', `${from} to ${to}`, (cb) => this.sftp.ext_openssh_rename(from, to, cb));
    }
    try {
      await this.req('rename', `${from} to ${to}`, (cb) => this.sftp.rename(from, to, cb));
    } catch (err) {
      const dest = await this.lstatOrNull(to);
      if (!dest || dest.isDirectory()) throw err;
      await this.unlink(to);
      await this.req('rename', `${from} to ${to}`, (cb) => this.sftp.rename(from, to, cb));
    }
  }

  /** hard link newPath to oldPath (hardlink@openssh.com: link(2), which does not follow a symlink) */
  hardlink(oldPath: string, newPath: string): Promise<void> {
    return this.req('link', `${newPath} to ${oldPath}`, (cb) => this.sftp.ext_openssh_hardlink(oldPath, newPath, cb));
  }

  /** Close the SFTP channel. */
  end(): void {
    try {
      this.sftp.end();
    } catch {
      /* already closed */
    }
    this.kill();
  }
}
