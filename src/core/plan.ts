// Compare-before-copy as a pure function: (local, remote, last pushed) → one action for one path.
// This is what ends the loop around the ring: a change that comes back to its origin finds an
// identical entry and is skipped. Which of two different files wins is core/conflict.ts.
import type { Action, Entry } from './types.js';
import { sameContent, sameEntry } from './entry.js';
import { conflictName, decideDir, decideFile } from './conflict.js';

export interface PlanInput {
  path: string;
  /** the path on this host now (null: it is gone) */
  local: Entry | null;
  /** the path on the target now */
  remote: Entry | null;
  /** what this link last pushed for the path, when remembered: if the target still holds exactly
   *  that, the target has not changed since, so a local change wins even if its mtime is older
   *  (a deliberate `cp -p` of a backup) */
  lastPushed?: Entry | null;
  /** when the local delete was seen (ms since epoch); a delete never removes a newer file */
  deletedAt?: number;
  /** config `delete` */
  deleteEnabled: boolean;
  /** planning a change as it happens (a batch), not a full-tree compare (first start, new directory):
   *  then a path the target lost since we last met is its delete, which wins, and a conflict with
   *  no memory of the path is a conflict. A full compare must not think so: after a host lost its
   *  disk, absence means nothing, and a host that was behind would fill the ring with copies. */
  live?: boolean;
  /** `conflicts: keep`: keep the target's losing version beside it, named after host (the target) */
  keep?: { host: string };
}

export function planPath(i: PlanInput): Action {
  const { path, local, remote } = i;
  const untouched = !!(remote && i.lastPushed && sameEntry(remote, i.lastPushed));

  if (!local) {
    if (!remote) return { op: 'skip', path, reason: 'absent' };
    if (!i.deleteEnabled) return { op: 'skip', path, reason: 'delete-disabled' };
    if (remote.type === 'file' && !untouched && i.deletedAt !== undefined && remote.mtime > Math.floor(i.deletedAt / 1000)) {
      return { op: 'skip', path, reason: 'remote-newer' };
    }
    // an edit made there since we last met, older than the delete: the delete wins; keep may keep it
    if (i.keep && remote.type === 'file' && i.lastPushed && !untouched) {
      return { op: 'remove', path, remote, keepAs: conflictName(path, i.keep.host, remote.mtime) };
    }
    return { op: 'remove', path, remote };
  }

  if (local.type === 'other') return { op: 'skip', path, reason: 'unsupported' };
  if (remote && sameEntry(local, remote)) return { op: 'skip', path, reason: 'equal' };

  switch (local.type) {
    case 'dir':
      if (!remote) return goneThere(i, local) ?? { op: 'mkdir', path, local };
      if (remote.type !== 'dir') return { op: 'mkdir', path, local, replace: remote };
      return decideDir(local, remote, i.lastPushed) === 'local' ? { op: 'setattr', path, local } : { op: 'skip', path, reason: 'remote-newer' };
    case 'symlink':
      if (!remote) return goneThere(i, local) ?? { op: 'symlink', path, local };
      return remote.type === 'dir' ? { op: 'symlink', path, local, replace: remote } : { op: 'symlink', path, local };
    case 'file':
      return planFile(i, local, remote);
  }
}

function planFile(i: PlanInput, local: Entry, remote: Entry | null): Action {
  const { path } = i;
  if (!remote) return goneThere(i, local) ?? { op: 'put', path, local };
  if (remote.type === 'dir') return { op: 'put', path, local, replace: remote };
  if (remote.type !== 'file') return { op: 'put', path, local };
  const last = i.lastPushed ?? null;
  // a chmod leaves mtime alone, so a mode-only difference is this host's change: carry it, unless
  // the target changed since we last met too (then the higher mode wins, like any conflict)
  const targetChanged = !!last && !sameEntry(remote, last);
  const v = targetChanged || !sameContent(local, remote) ? decideFile(local, remote, last) : { winner: 'local' as const, conflict: false };
  if (v.winner === 'remote') return { op: 'skip', path, reason: v.reason ?? 'remote-newer' };
  if (sameContent(local, remote)) return { op: 'setattr', path, local };
  if (i.keep && (v.conflict === true || (v.conflict === 'unknown' && i.live))) {
    return { op: 'put', path, local, keepAs: conflictName(path, i.keep.host, remote.mtime) };
  }
  return { op: 'put', path, local };
}

/** The target lacks what this link gave it (or found there) and we still hold exactly that: it was
 *  deleted there since, and that delete is the newer change; it travels on from there. */
function goneThere(i: PlanInput, local: Entry): Action | null {
  return i.live && i.lastPushed && sameEntry(local, i.lastPushed) ? { op: 'skip', path: i.path, reason: 'remote-changed' } : null;
}
