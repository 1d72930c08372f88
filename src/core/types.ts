// The tiny data model shared by the pure core, the transport and the engine.
// Paths are always root-relative POSIX strings without leading "./" or "/" ("a/b.jpg"); "" is the root.

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

/** What we know of one path on one side. mtime is in whole seconds (SFTP v3 carries seconds). */
export interface Entry {
  type: EntryType;
  size: number;
  /** modification time, whole seconds since the epoch */
  mtime: number;
  /** permission bits and sticky bit (mode & MODE_BITS in core/entry.ts: setuid/setgid are never replicated) */
  mode: number;
  /** symlink target, verbatim, for type 'symlink' */
  target?: string;
}

/** A named entry of a directory listing. */
export interface DirEntry {
  name: string;
  entry: Entry;
  /** why this entry cannot be replicated (a name that is not valid UTF-8); its entry is type 'other' */
  problem?: string;
  /** a local entry's ctime, whole seconds: when it (for a directory: its entries) or its times
   *  last changed. Unlike the mtime, nothing can set it back (cp -a, tar and rsync -a restore a
   *  directory's mtime after filling it), so it tells whether anything changed since a time.
   *  Local listings give it for directories, and for every entry when asked (ReaddirOptions) */
  changed?: number;
}

/** A filesystem event as the watcher reports it, root-relative. */
export interface FsEvent {
  kind: 'create' | 'update' | 'delete';
  path: string;
  /** ms since epoch when it was seen */
  at: number;
}

/** A path waiting to be pushed: what happened last (coalesced) and when it was first seen. */
export interface PendingChange {
  path: string;
  /** 'change' = look at the current local state and push it; 'delete' = the path was deleted */
  kind: 'change' | 'delete';
  /** ms since epoch of the first event of this path in the batch */
  since: number;
  /** ms since epoch of the last event (for deletes: when the delete was seen) */
  at: number;
  /** compare this directory's entries, not just the entry (its events may have been lost) */
  tree?: boolean;
  /** with tree: compare the whole subtree, all the way down (a new neighbour, an unfinished compare) */
  deep?: boolean;
  /** with tree: every directory under it, not only those whose entries changed since `since` (a
   *  burst's rescan once it has settled: files rewritten in place leave no trace on their
   *  directory); of the entries, those changed since `since` (their ctime) are checked against
   *  what the link knows the target holds, and looked up there where that differs */
  full?: boolean;
  /** the predecessor says so (its inbox manifest): it wrote this here, or found our version winning
   *  over its own. Such a path is compared with the target even if this link pushed exactly this
   *  before. entry: the version it said is here (null: none; absent: not said); hops: how many more
   *  hosts it must visit even where nothing differs (see engine/push.ts); origin: the host that
   *  held this entry when it set out (when said), which its last hop need not compare it with */
  arrived?: { entry?: Entry | null; hops: number; origin?: string };
}

/** One thing the engine must do on a target, decided by the pure planner. `replace` means the remote
 *  holds another kind of entry there (e.g. a directory where a file goes) that must be removed first,
 *  because rename cannot replace a directory with a file or make a directory over a file.
 *  `keepAs` (conflicts: keep) is where the target's losing version is kept, beside it, before it is
 *  replaced or removed (see core/conflict.ts). Skip reasons 'remote-newer' and 'remote-changed' mean
 *  the target's version wins and must travel on from there. */
export type Action =
  | { op: 'put'; path: string; local: Entry; replace?: Entry; keepAs?: string }
  | { op: 'mkdir'; path: string; local: Entry; replace?: Entry }
  | { op: 'symlink'; path: string; local: Entry; replace?: Entry }
  | { op: 'rename'; from: string; path: string; local: Entry }
  | { op: 'setattr'; path: string; local: Entry }
  | { op: 'remove'; path: string; remote: Entry; keepAs?: string }
  | { op: 'skip'; path: string; reason: SkipReason };

export type SkipReason = 'equal' | 'excluded' | 'remote-newer' | 'remote-changed' | 'absent' | 'unsupported' | 'delete-disabled';
