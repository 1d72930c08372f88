// The Remote interface: everything the engine may do to one host's root. Implemented over ssh2 SFTP
// (sftp.ts) and over the local filesystem (local.ts, for tests and for reading our own root).
// All paths are root-relative (see core/types.ts); implementations refuse anything that would
// resolve outside the root (.., absolute, NUL, a symlinked parent directory).
import type { Entry, DirEntry } from '../core/types.js';

export interface PutOptions {
  /** permission bits to set before the file becomes visible */
  mode: number;
  /** mtime (whole seconds) to set before the file becomes visible */
  mtime: number;
  /** runs when the new content is complete under its temp name, right before it is renamed over
   *  the path: the last moment to check the target is still what was planned (throw to abandon the
   *  put; the temp file is removed) and to keep the version about to be replaced (trash, conflict
   *  copy). Runs at most once per put. */
  beforeReplace?: () => Promise<void>;
}

/** Where file content comes from: a local absolute path, read without following symlinks. */
export interface PutSource {
  localPath: string;
  /** what the local file looked like when planned; the put fails with SourceChangedError if it changes while sent */
  expect: Entry;
}

export interface ReaddirOptions {
  /** DirEntry.changed for every entry, not only for directories (where a listing can say it) */
  ctimes?: boolean;
}

export interface Remote {
  /** a short name for messages: the host name */
  readonly name: string;
  /** absolute root on that host */
  readonly root: string;
  /** lstat: never follows a symlink; null when the path does not exist */
  lstat(path: string): Promise<Entry | null>;
  /** optional: lstat of many paths at once, in order; a directory holding many of them is listed
   *  once instead of one request per path (a burst puts hundreds of files in each directory) */
  lstatMany?(paths: string[]): Promise<(Entry | null)[]>;
  /** list one directory (no "." / ".."); entries are lstat'ed; [] when missing */
  readdir(path: string, opts?: ReaddirOptions): Promise<DirEntry[]>;
  /** create the directory and its missing parents; refuses to go through a symlink */
  mkdirp(path: string, mode?: number): Promise<void>;
  /** write a file atomically: temp name under <root>/.chain/tmp (or beside the target),
   *  content, mode and mtime set, then posix-rename over the target */
  put(path: string, src: PutSource, opts: PutOptions): Promise<void>;
  /** replace path atomically with a symlink to target (temp link + rename) */
  symlink(path: string, target: string): Promise<void>;
  /** rename within the root (posix-rename, replaces the destination) */
  rename(from: string, to: string): Promise<void>;
  /** hard-link `to` to the entry at `from` (never follows a symlink; fails if `to` exists), making
   *  `to`'s missing directories. Throws an error of kind 'unsupported' where the server cannot
   *  (no hardlink@openssh.com); absent on a Remote that never can: callers fall back to rename. */
  link?(from: string, to: string): Promise<void>;
  /** set mode and/or mtime of an existing file or dir (not followed through symlinks) */
  setattr(path: string, attrs: { mode?: number; mtime?: number }): Promise<void>;
  /** remove a file, symlink, or a whole directory tree; no-op when missing */
  remove(path: string): Promise<void>;
  /** write a small file atomically (used for .chain/ bookkeeping such as the inbox) */
  writeSmall(path: string, data: Buffer | string): Promise<void>;
  /** read a small file; null when missing */
  readSmall(path: string): Promise<Buffer | null>;
  close(): Promise<void>;
  /** open a file of this root for another host's putFrom (repair streams host to host, never
   *  holding a whole file); SourceChangedError when it is not, or stops being, the file expected */
  openRead(path: string, expect: Entry): Promise<FileReader>;
  /** put() with the content read from a FileReader (another host's file) instead of a local file */
  putFrom(path: string, src: FileReader, opts: PutOptions): Promise<void>;
  /** create a small file only when nothing is at path (O_EXCL; locks); false when something is */
  createExclusive(path: string, data: Buffer | string): Promise<boolean>;
  /** optional: everything below the root in one pass (pre-order, symlinks not followed, .chain/
   *  left out; depth 1 for what is directly in the root), for a fast listing of a big tree; false
   *  when this Remote cannot (then list directory by directory) */
  walk?(onEntry: (rel: string, e: Entry, depth: number) => void): Promise<boolean>;
}

/** A file being read for sending: positional reads, and a last check that it is still the planned version. */
export interface FileReader {
  readonly size: number;
  /** the whole content, when the reader already holds it (a small local file, read at open) */
  readonly whole?: Buffer;
  /** fills buf from pos; returns the bytes read (fewer only at the end of the file) */
  readAt(buf: Buffer, pos: number): Promise<number>;
  /** throws SourceChangedError when the file no longer matches what was planned */
  verify(): Promise<void>;
  close(): Promise<void>;
}

/** The local file changed while it was being sent: the put was abandoned, send it again. */
export class SourceChangedError extends Error {
  constructor(readonly path: string) {
    super(`${path} changed while it was being sent`);
    this.name = 'SourceChangedError';
  }
}
