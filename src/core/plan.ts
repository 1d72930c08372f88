// Compare-before-copy as a pure function: (local, remote, last pushed) → one action for one path.
// This is what ends the loop around the ring: a change that comes back to its origin finds an
// identical entry and is skipped.
import type { Action, Entry } from './types.js';
import { compareVersions, sameContent, sameEntry } from './entry.js';

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
    return { op: 'remove', path, remote };
  }

  if (local.type === 'other') return { op: 'skip', path, reason: 'unsupported' };
  if (remote && sameEntry(local, remote)) return { op: 'skip', path, reason: 'equal' };

  switch (local.type) {
    case 'dir':
      if (!remote) return { op: 'mkdir', path, local };
      if (remote.type !== 'dir') return { op: 'mkdir', path, local, replace: remote };
      return { op: 'setattr', path, local };
    case 'symlink':
      if (!remote) return { op: 'symlink', path, local };
      return remote.type === 'dir' ? { op: 'symlink', path, local, replace: remote } : { op: 'symlink', path, local };
    case 'file':
      if (!remote) return { op: 'put', path, local };
      if (remote.type === 'dir') return { op: 'put', path, local, replace: remote };
      // a chmod leaves mtime alone, so a mode-only difference is this host's change: carry it
      if (remote.type === 'file' && sameContent(local, remote)) return { op: 'setattr', path, local };
      if (remote.type === 'file' && !untouched) {
        // both sides changed since they last met (or we do not remember): newer wins everywhere
        if (compareVersions(remote, local) > 0) return { op: 'skip', path, reason: 'remote-newer' };
      }
      return { op: 'put', path, local };
  }
}
