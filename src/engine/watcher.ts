// The filesystem watcher: @parcel/watcher (inotify backend) turned into root-relative FsEvents, with
// <root>/.chain never reported, with parcel's blind spots covered where it can be done from outside,
// and with an exhausted inotify budget turned into an error a user can act on.
//
// What @parcel/watcher 2.6 on Linux reports — measured (scripts under /tmp, ext4, kernel 6.x) and read
// in its src/linux/InotifyBackend.cc. The engine depends on every line of this:
//  - Events arrive in batches (debounced ~50-500 ms), coalesced per path and SORTED BY PATH, not by
//    time: create+update = create; create+delete = nothing; delete+create = update; a parent always
//    sorts before its children.
//  - create+write of a file: one `create`. Appending/chmod/utime of an existing file: `update`.
//  - rename a→b of a file (or of a symlink) inside the root: `delete a` + `create b`. Renaming over
//    an existing file reports `create` for a path that existed; a symlink replaced by rename, too.
//  - mkdir -p a/b/c + files, and `mv dir_from_outside root/`: ONLY `create` of the top directory.
//    Its contents are not reported, and parcel adds a watch for the top directory only: later
//    changes in its pre-existing subdirectories are never reported either. The same holds for
//    subdirectories created before parcel reacted to their parent's creation (a race: `mkdir -p` is
//    faster than parcel). watchTree covers this (see "catch-up" below); the consumer must still walk
//    a created directory in full, as its contents come without events.
//  - rename of a directory inside the root: `delete old` + `create new`; parcel keeps the OLD paths
//    for the moved directory's subdirectories, so later changes there are reported under the old,
//    now non-existent path. The catch-up subscription reports them under the right path too; the
//    stale ones remain (harmless: the consumer finds them absent).
//  - rm -rf of a watched tree: one `delete` per file and directory (each watched directory reports
//    its children), parents sort first. Unwatched subtrees (see above) report only what was watched.
//  - deleting or moving away the root itself: `delete` of the root (path "" here); nothing after.
//  - Lossy under bursts, silently: inotify queue overflow (IN_Q_OVERFLOW, max_queued_events=16384)
//    is discarded by parcel, and events landing while a batch is handed over can be lost. Measured:
//    50,000 files written into 50 watched dirs in 1-4 s lost 17-395 `create`s, no error. Hence
//    onRescan: after a large batch the consumer should compare the batch's directories in full.
//  - inotify watch limit: subscribe fails with "inotify_add_watch on '<dir>' failed: No space left
//    on device"; a directory created LATER that cannot be watched is skipped silently by parcel.
//    watchTree probes each catch-up pass with fs.watch (same per-user limit) and reports ENOSPC.
//  - a symlinked root fails ("Not a directory"): watchTree subscribes to realpath(root).
//  - writeSnapshot/getEventsSince: while the same directory is subscribed, parcel uses its LIVE tree
//    instead of crawling, and that tree has the blind spots above (a snapshot of it misses deletes
//    in moved-in subtrees). So the module's writeSnapshot/eventsSince force a fresh crawl (see
//    crawlDir), which costs a second tree of the whole root (~230 bytes a path) and a crawl; a
//    TreeWatch's own snapshot/eventsSince use the live tree instead (no crawl, no second tree),
//    which right after subscribing is a fresh crawl itself. The diff
//    reports one event per path (a deleted tree = every entry; a new tree = every entry), `update`
//    only for files (and links) whose mtime changed (ns): a chmod-only change is NOT reported, and
//    directories never get `update`.
import { watch as fsWatch, lstatSync, readFileSync, promises as fs } from 'node:fs';
import { resolve, posix } from 'node:path';
import parcel from '@parcel/watcher';
import type { FsEvent } from '../core/types.js';
import { ChainError } from '../core/errors.js';
import { ancestors, parentOf, relativeTo, underRoot } from '../core/paths.js';
import { STATE_DIR, isReserved } from '../core/names.js';

export interface WatchHandlers {
  /** root-relative events, never under .chain/ nor for temp names, nor for the root itself */
  onEvents(events: FsEvent[]): void;
  /** the watch can no longer be trusted (limit reached, root gone, backend failure): stop or restart */
  onError(err: Error): void;
  /** extra paths to drop (e.g. the config's exclude) */
  ignore?: (rel: string) => boolean;
  /** parcel may have dropped events under these directories (a burst): compare them with the successor */
  onRescan?(dirs: string[]): void;
  /** a batch at least this big calls onRescan (default 1000) */
  burst?: number;
}

export interface Watch {
  close(): Promise<void>;
}

/** a watch of a whole tree, with parcel's live tree of it */
export interface TreeWatch extends Watch {
  /** Record the live tree in `file` (atomically). No crawl and no second tree, but the blind spots
   *  of the live watch (see above): paths inside directories moved in or made by `mkdir -p` while
   *  watching are missing from it, so eventsSince reports them as created (harmless) and cannot
   *  see their deletion. writeSnapshot (a fresh crawl) has none of that. */
  snapshot(file: string): Promise<void>;
  /** eventsSince(root, file) against the live tree: exact right after watchTree resolved (its
   *  tree is a fresh crawl then), and without a second crawl */
  eventsSince(file: string, ignore?: (rel: string) => boolean): Promise<FsEvent[] | null>;
  /** false once the live tree may have blind spots (a directory was created, or a burst may have
   *  lost events): from then on only writeSnapshot gives an exact snapshot */
  readonly exact: boolean;
}

type Sub = Awaited<ReturnType<typeof parcel.subscribe>>;
/** a catch-up subscription (see watchTree) */
interface Nested {
  sub: Promise<Sub | null>;
  seq: number;
  live?: boolean;
}
const PARCEL_OPTS = { ignore: [STATE_DIR] }; // resolved against the watched dir by parcel's wrapper
const DEFAULT_BURST = 1000;
/** creates looked at per round of catch-up (a burst queues tens of thousands) */
const CREATE_CHUNK = 1024;
/** file timestamps use the kernel's coarse clock, a few ms behind Date.now() */
const CLOCK_SLACK_MS = 50;

/** a created directory waiting for catch-up; `seq`: the batch that reported it; `unseen`: parcel
 *  never reported it, so it may not watch even the directory itself */
interface Pending {
  rel: string;
  seq: number;
  unseen?: boolean;
}

/** Watch root recursively. Resolves once every directory present now is watched. */
export async function watchTree(root: string, h: WatchHandlers): Promise<TreeWatch> {
  const top = await realRoot(root).catch((err: Error) => {
    throw new ChainError(`cannot watch ${root}: ${err.message}`, { cause: err, hint: 'check that the root exists and is a directory' });
  });
  let seq = 0; // batches received so far
  let exact = true; // see TreeWatch.exact
  let closed = false;
  let limitReported = false;
  // Catch-up: a created directory that already has subdirectories gets a subscription of its own,
  // which crawls it and watches every subdirectory. Its `seq` is the last batch received when it
  // started: it covers every directory under it whose create arrived in a batch numbered <= seq.
  // Once `live` (its crawl is done and every directory under it watched), parcel gives it every
  // event under it, and an enclosing subscription gets the same events again for each directory it
  // watches too (inotify hands one watch's events to each subscription that asked for it).
  const nested = new Map<string, Nested>();
  // parcel shares one watcher and one cached tree per directory: a path is subscribed again only
  // after its previous subscription is fully gone, or the new one would inherit the dead tree
  const closing = new Set<Promise<unknown>>();
  const queue: Pending[] = [];
  let draining: Promise<void> | null = null;

  const keep = (rel: string | null): rel is string => rel !== null && rel !== '' && !isReserved(rel) && !h.ignore?.(rel);
  const fail = (err: unknown, where: string) =>
    watchLimitError(err, where) ?? new ChainError(`watching ${where} failed: ${(err as Error).message}`, { cause: err });

  /** a create or update under a live subscription nested inside `from`'s: that one reports it too.
   *  (Deletes are kept: a few, and the consumer's walk of a directory may not remove what is gone.) */
  const reportedBelow = (from: string, rel: string, type: parcel.EventType): boolean => {
    if (nested.size === 0 || type === 'delete') return false;
    for (let i = rel.lastIndexOf('/'); i > from.length; i = rel.lastIndexOf('/', i - 1)) {
      if (nested.get(rel.slice(0, i))?.live) return true;
    }
    return false;
  };

  /** one subscription's batch; `from`: the directory it watches ('' for the root) */
  const onBatch = (from: string, err: Error | null, events: parcel.Event[]) => {
    if (closed) return;
    if (err) return h.onError(fail(err, top));
    const n = ++seq;
    const at = Date.now();
    const out: FsEvent[] = [];
    let rootGone = false;
    for (const e of events) {
      const rel = relativeTo(top, e.path);
      if (rel === '' && e.type === 'delete') rootGone = true;
      if (!keep(rel) || reportedBelow(from, rel, e.type)) continue;
      out.push({ kind: e.type, path: rel, at });
      if (e.type === 'create') queue.push({ rel, seq: n });
      else if (e.type === 'delete') dropNested(rel);
    }
    if (out.length > 0) h.onEvents(out);
    if (out.length >= (h.burst ?? DEFAULT_BURST)) exact = false; // parcel may have lost events: so may its tree
    if (h.onRescan && out.length >= (h.burst ?? DEFAULT_BURST)) h.onRescan([...new Set(out.map((e) => parentOf(e.path)))].sort());
    if (rootGone) h.onError(new ChainError(`${top} was deleted or moved away; the watch has ended`, { hint: 'restore the directory, then restart chain watch' }));
    if (queue.length > 0) draining ??= drain().finally(() => (draining = null));
  };

  const unsubscribe = (sub: Promise<Sub | null>) => {
    const p = sub.then((s) => s?.unsubscribe()).catch(() => {});
    closing.add(p);
    void p.then(() => closing.delete(p));
  };

  const dropNested = (rel: string) => {
    for (const [k, v] of nested) {
      if (k === rel || k.startsWith(rel + '/')) {
        nested.delete(k);
        unsubscribe(v.sub);
      }
    }
  };

  const covered = (p: Pending) =>
    [...ancestors(p.rel), p.rel].some((d) => {
      const n = nested.get(d);
      return n !== undefined && n.seq >= p.seq;
    });

  const drain = async () => {
    while (queue.length > 0 && !closed) {
      const items = queue.splice(0, CREATE_CHUNK);
      const dirs = directoriesAmong(top, items);
      if (dirs.length === 0 && queue.length > 0) await new Promise<void>((r) => setImmediate(r)); // (let others run between chunks)
      // the live tree lacks what such a directory held before parcel watched it (see above)
      if (dirs.length > 0) exact = false;
      if (dirs.length > 0) probeLimit(posix.join(top, dirs[dirs.length - 1]!.rel));
      for (const d of dirs) if (!closed && !covered(d)) await catchUp(d);
    }
  };

  const catchUp = async (d: Pending) => {
    const abs = posix.join(top, d.rel);
    // a directory parcel reported is watched itself; only subdirectories it already had are blind
    if (!d.unseen && !(await hasSubdir(abs))) return;
    const old = nested.get(d.rel);
    if (old) {
      nested.delete(d.rel);
      unsubscribe(old.sub);
    }
    await Promise.all(closing);
    if (closed) return;
    const since = Date.now() - CLOCK_SLACK_MS;
    const started = seq;
    // a callback of its own: parcel keys callbacks by identity per directory
    const sub = subscribe(abs, (err, events) => onBatch(d.rel, err, events), {}).catch((err: unknown) => {
      if (nested.get(d.rel)?.sub === sub) nested.delete(d.rel);
      if (!closed && !isGone(err)) h.onError(fail(err, abs));
      return null;
    });
    const entry: Nested = { sub, seq: started };
    nested.set(d.rel, entry);
    if (!(await sub) || closed) return;
    entry.live = true;
    h.onEvents([{ kind: 'create', path: d.rel, at: Date.now() }]); // walk it again: now all of it is watched
    // parcel crawls first and adds watches after: a directory born in between is in neither
    for (const y of await dirsBornSince(abs, since)) queue.push({ rel: `${d.rel}/${y}`, seq: started + 1, unseen: true });
  };

  /** parcel skips a new directory silently when no watch is left; the same per-user limit fails here loudly */
  const probeLimit = (abs: string) => {
    if (limitReported) return;
    try {
      fsWatch(abs).close();
    } catch (err) {
      const e = watchLimitError(err, abs);
      if (e) {
        limitReported = true;
        h.onError(e);
      }
    }
  };

  let rootSub: Sub;
  try {
    rootSub = await subscribe(top, (err, events) => onBatch('', err, events), PARCEL_OPTS);
  } catch (err) {
    throw fail(err, top);
  }
  liveTops.set(top, (liveTops.get(top) ?? 0) + 1);
  return {
    get exact() {
      return exact;
    },
    snapshot: (file) => (closed ? Promise.reject(new Error(`the watch of ${top} is closed`)) : snapshotOf(top, file)),
    eventsSince: (file, ignore = h.ignore) => liveEventsSince(top, file, ignore),
    async close() {
      if (closed) return;
      closed = true;
      await draining;
      for (const n of nested.values()) unsubscribe(n.sub);
      nested.clear();
      await Promise.all([rootSub.unsubscribe().catch(() => {}), ...closing]);
      const n = (liveTops.get(top) ?? 1) - 1;
      if (n > 0) liveTops.set(top, n);
      else liveTops.delete(top);
    },
  };
}

/** parcel's subscribe fails when any directory vanishes during its crawl; under churn, try again
 *  while the directory itself is still there. A missing directory fails with a GoneError. */
async function subscribe(abs: string, cb: parcel.SubscribeCallback, opts: parcel.Options): Promise<Sub> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await parcel.subscribe(abs, cb, opts);
    } catch (err) {
      if (watchLimitError(err, abs)) throw err;
      const st = await fs.lstat(abs).catch(() => null);
      if (!st?.isDirectory()) throw new GoneError(abs, err);
      if (attempt === 3) throw err;
    }
  }
}

class GoneError extends Error {
  constructor(abs: string, cause: unknown) {
    super(`${abs} is gone`, { cause });
  }
}
const isGone = (err: unknown) => err instanceof GoneError;

/** Which of these created paths are directories, in their order: an lstat each, in this thread
 *  (a created path's inode is in the cache: a microsecond or two, where a thread-pool round trip
 *  or a readdir of a large parent per batch cost more; bench: 6% of a receiving daemon's CPU). */
function directoriesAmong(top: string, items: Pending[]): Pending[] {
  return items.filter((i) => {
    try {
      return lstatSync(underRoot(top, i.rel), { throwIfNoEntry: false })?.isDirectory() === true;
    } catch {
      return false; // gone or unreadable meanwhile: not a directory to catch up with
    }
  });
}

async function hasSubdir(abs: string): Promise<boolean> {
  const list = await fs.readdir(abs, { withFileTypes: true }).catch(() => []);
  return list.some((x) => x.isDirectory());
}

/** directories under abs (relative to it) born at or after `since`; their subtrees are not searched,
 *  as each gets a crawl of its own */
async function dirsBornSince(abs: string, since: number, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const x of await fs.readdir(abs, { withFileTypes: true }).catch(() => [])) {
    if (!x.isDirectory()) continue;
    const childRel = rel === '' ? x.name : `${rel}/${x.name}`;
    const childAbs = posix.join(abs, x.name);
    const st = await fs.lstat(childAbs).catch(() => null);
    if (!st) continue;
    // birth time (statx) where the filesystem keeps one; ctime otherwise, which errs towards more
    if ((st.birthtimeMs || st.ctimeMs) >= since) out.push(childRel);
    else out.push(...(await dirsBornSince(childAbs, since, childRel)));
  }
  return out;
}

/** Watch one plain directory (the inbox): onChange gets its changed entries (names, temp names
 *  dropped). The directory is created when missing, and created and watched again if it is removed
 *  (e.g. cleared with rm -r), so nothing written into it later goes unnoticed. */
export async function watchDir(dir: string, onChange: (events: FsEvent[]) => void, onError?: (err: Error) => void): Promise<Watch> {
  let closed = false;
  let sub: Sub | null = null;
  let restarting: Promise<void> | null = null;
  const start = async (): Promise<void> => {
    await fs.mkdir(dir, { recursive: true });
    const top = await realRoot(dir);
    const s = await parcel.subscribe(top, (err, events) => {
      if (closed) return;
      if (err) return onError?.(watchLimitError(err, top) ?? err);
      const at = Date.now();
      const out: FsEvent[] = [];
      let gone = false;
      for (const e of events) {
        const rel = relativeTo(top, e.path);
        if (rel === '') gone ||= e.type === 'delete';
        else if (rel !== null && !rel.includes('/') && !isReserved(rel)) out.push({ kind: e.type, path: rel, at });
      }
      if (out.length > 0) onChange(out);
      if (gone) restarting ??= restart().finally(() => (restarting = null));
    });
    if (closed) await s.unsubscribe();
    else sub = s;
  };
  const restart = async () => {
    const old = sub;
    sub = null;
    await old?.unsubscribe().catch(() => {});
    if (closed) return;
    try {
      await start();
      onChange([]); // anything written between the removal and the new watch: look now
    } catch (err) {
      onError?.(err as Error);
    }
  };
  try {
    await start();
  } catch (err) {
    throw watchLimitError(err, dir) ?? err;
  }
  return {
    async close() {
      closed = true;
      await restarting;
      await sub?.unsubscribe().catch(() => {});
      sub = null;
    },
  };
}

/** Record the tree's state in `file` (atomically), for eventsSince after a restart. Take it while
 *  still watching and before the last batch is pushed, so nothing between the two is lost. A fresh
 *  crawl, even while watchTree watches the root (TreeWatch.snapshot is the cheap one); its paths
 *  are named under the real root either way, as the live tree names them. */
export async function writeSnapshot(root: string, file: string): Promise<void> {
  const top = await realRoot(root);
  const dir = await crawlDir(top);
  if (dir === top) return snapshotOf(dir, file);
  const tmp = `${file}.crawl-${process.pid}`;
  try {
    await snapshotOf(dir, tmp);
    await rebaseSnapshot(tmp, file, dir, top);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/** What changed since writeSnapshot(root, file), against a fresh crawl; null when there is no
 *  snapshot (compare in full). Call it after watchTree has subscribed, so nothing falls between. */
export async function eventsSince(root: string, file: string, ignore?: (rel: string) => boolean): Promise<FsEvent[] | null> {
  if (!(await exists(file))) return null;
  const top = await realRoot(root);
  const alias = aliasOf(top);
  // named under the alias: written by a chain from before snapshots were named under the real root
  if (await namedUnder(file, alias)) return diffSince(alias, file, ignore);
  const dir = await crawlDir(top);
  if (dir === top) return diffSince(top, file, ignore);
  const tmp = `${file}.crawl-${process.pid}`;
  try {
    await rebaseSnapshot(file, tmp, top, dir);
    return await diffSince(dir, tmp, ignore);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/** TreeWatch.eventsSince: the live tree of top, or a crawl for a snapshot named under the alias
 *  (what chain wrote before its snapshots were named under the real root) */
async function liveEventsSince(top: string, file: string, ignore?: (rel: string) => boolean): Promise<FsEvent[] | null> {
  if (!(await exists(file))) return null;
  const alias = aliasOf(top);
  return diffSince((await namedUnder(file, alias)) ? alias : top, file, ignore);
}

/** parcel's snapshot of dir: its live tree when dir is subscribed under this very name, else a crawl */
async function snapshotOf(dir: string, file: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await parcel.writeSnapshot(dir, tmp, PARCEL_OPTS);
    await fs.rename(tmp, file); // parcel writes in place: a crash mid-write must not leave a short snapshot
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/** parcel's diff of `file` against dir (live tree or crawl), as events relative to dir */
async function diffSince(dir: string, file: string, ignore?: (rel: string) => boolean): Promise<FsEvent[]> {
  const at = Date.now();
  const out: FsEvent[] = [];
  for (const e of await parcel.getEventsSince(dir, file, PARCEL_OPTS)) {
    const rel = relativeTo(dir, e.path);
    if (rel !== null && rel !== '' && !isReserved(rel) && !ignore?.(rel)) out.push({ kind: e.type, path: rel, at });
  }
  return out;
}

const exists = (file: string) => fs.access(file).then(() => true, () => false);

// parcel's snapshot file (DirTree::write, 2.x): "<count>\n", then per entry
// "<byte length of path><absolute path><mtime ns> <0|1>\n". The paths name the directory as it
// was given to parcel, which is why a crawl under an alias must be renamed to be diffed against
// the live tree, and the other way round.

/** true when the snapshot's paths are named under dir (an empty snapshot: true) */
async function namedUnder(file: string, dir: string): Promise<boolean> {
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(8192);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const text = buf.subarray(0, bytesRead).toString('latin1');
    const m = /^\d+\n(\d+)/.exec(text);
    if (!m) return true;
    const path = text.slice(m[0].length, m[0].length + Number(m[1]));
    return path === dir || path.startsWith(dir + '/');
  } finally {
    await fh.close();
  }
}

/** Copy parcel's snapshot `src` to `dst`, every path under `from` renamed to be under `to`.
 *  Streams in chunks: memory stays flat however big the tree. */
async function rebaseSnapshot(src: string, dst: string, from: string, to: string): Promise<void> {
  const fromB = Buffer.from(from);
  const toB = Buffer.from(to);
  const inp = await fs.open(src, 'r');
  const out = await fs.open(dst, 'w', 0o600);
  try {
    const CHUNK = 1 << 20;
    let carry = Buffer.alloc(0);
    let header = true;
    let pos = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(CHUNK);
      const { bytesRead } = await inp.read(buf, 0, CHUNK, pos);
      pos += bytesRead;
      const data = carry.length ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      const parts: Buffer[] = [];
      let i = 0;
      for (;;) {
        const nl = data.indexOf(10, i);
        if (header) {
          if (nl < 0) break;
          parts.push(data.subarray(i, nl + 1));
          i = nl + 1;
          header = false;
          continue;
        }
        // one entry: digits, then that many bytes of path, then "<mtime> <dir>\n"
        let j = i;
        while (j < data.length && data[j]! >= 48 && data[j]! <= 57) j++;
        if (j === data.length) break;
        const len = Number(data.toString('latin1', i, j));
        const end = data.indexOf(10, j + len);
        if (end < 0) break;
        const path = data.subarray(j, j + len);
        if (!path.subarray(0, fromB.length).equals(fromB) || (len > fromB.length && path[fromB.length] !== 47)) {
          throw new Error(`${src}: a path not under ${from}`);
        }
        const rest = path.subarray(fromB.length);
        parts.push(Buffer.from(String(toB.length + rest.length)), toB, rest, data.subarray(j + len, end + 1));
        i = end + 1;
      }
      carry = Buffer.from(data.subarray(i));
      if (parts.length) await out.write(Buffer.concat(parts));
      if (bytesRead === 0) break;
    }
    if (carry.length) throw new Error(`${src}: the snapshot ends mid-entry`);
    await out.sync();
  } finally {
    await inp.close();
    await out.close();
  }
}

/** The ChainError for an exhausted inotify budget, or null for other errors. No watch left is
 *  ENOSPC ("No space left on device"); EMFILE ("Too many open files") from inotify_init is the
 *  per-user instance limit, or this process's open-files limit. */
export function watchLimitError(err: unknown, where: string): ChainError | null {
  const msg = err instanceof Error ? err.message : String(err);
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const watches = code === 'ENOSPC' || /ENOSPC|no space left on device|max_user_watches|limit for number of file watchers/i.test(msg);
  const files = code === 'EMFILE' || /EMFILE|too many open files|max_user_instances/i.test(msg);
  if (!watches && !files) return null;
  const key = watches ? 'max_user_watches' : 'max_user_instances';
  const current = readLimit(key);
  const suggest = Math.max(watches ? 524288 : 1024, (current ?? 0) * 2);
  const what = watches ? 'inotify watches (one per directory)' : 'inotify instances or open files';
  const also = watches ? '' : '; if that is not it, raise the open-files limit (ulimit -n, or LimitNOFILE= in the systemd unit)';
  return new ChainError(`cannot watch ${where}: the limit of ${what} is reached (fs.inotify.${key} = ${current ?? 'unknown'})`, {
    cause: err,
    hint: `raise it: sysctl fs.inotify.${key}=${suggest}; to keep it after a reboot: echo fs.inotify.${key}=${suggest} > /etc/sysctl.d/90-chain-inotify.conf${also}`,
  });
}

function readLimit(key: string): number | null {
  try {
    // sync: read once, on a path that is about to stop the daemon anyway
    const v = Number(readFileSync(`/proc/sys/fs/inotify/${key}`, 'utf8').trim());
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

async function realRoot(root: string): Promise<string> {
  return fs.realpath(resolve(root));
}

/** roots this process watches with watchTree (how many times): parcel answers for them from the
 *  live tree */
const liveTops = new Map<string, number>();

/** /proc/self/root + top names the same directory, but not with the same string */
function aliasOf(top: string): string {
  return '/proc/self/root' + top;
}

/** The directory to crawl top under: top itself, or when this process watches it, an alias, so
 *  that parcel's per-path tree cache misses and it crawls afresh. */
async function crawlDir(top: string): Promise<string> {
  if (!liveTops.has(top)) return top;
  const alias = aliasOf(top);
  try {
    await fs.access(alias);
    return alias;
  } catch {
    return top; // no /proc: a live-tree snapshot is still better than none
  }
}
