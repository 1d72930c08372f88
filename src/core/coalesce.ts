// How events on one path combine inside a batch window (lsyncd's Combiner, as a table):
//
//   pending \ event |  create / update        |  delete
//   ----------------+-------------------------+-----------------------------------------
//   (none)          |  change (born=create?)  |  delete
//   change          |  change                 |  nothing if born in this window (and not
//                   |                         |  known elsewhere), else delete
//   delete          |  change (replaced)      |  delete (later time)
//
// A path that was created and deleted inside one window never existed for the ring, unless the
// create was the predecessor writing it here: then the ring has it, and the delete must go on.
// `elsewhere` says so (the link's memory holds it for the target).
// What is pushed is the current state of the path, so a change only needs its path and times.
import type { FsEvent, PendingChange } from './types.js';

export interface Pending extends PendingChange {
  /** the first event of this window created the path (so a delete cancels it) */
  born: boolean;
}

/** Folds events into the pending map (mutates and returns it). */
export function coalesce(pending: Map<string, Pending>, events: Iterable<FsEvent>, elsewhere?: (path: string) => boolean): Map<string, Pending> {
  for (const ev of events) {
    const prev = pending.get(ev.path);
    if (!prev) {
      pending.set(ev.path, {
        path: ev.path,
        kind: ev.kind === 'delete' ? 'delete' : 'change',
        since: ev.at,
        at: ev.at,
        born: ev.kind === 'create',
      });
      continue;
    }
    if (ev.kind === 'delete') {
      if (prev.kind === 'change' && prev.born && !elsewhere?.(ev.path)) pending.delete(ev.path);
      else Object.assign(prev, { kind: 'delete', at: ev.at });
    } else {
      Object.assign(prev, { kind: 'change', at: ev.at });
    }
  }
  return pending;
}
