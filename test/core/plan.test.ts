import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planPath, type PlanInput } from '../../src/core/plan.js';
import type { Entry } from '../../src/core/types.js';

const file = (mtime: number, size = 10, mode = 0o644): Entry => ({ type: 'file', size, mtime, mode });
const dir = (mode = 0o755): Entry => ({ type: 'dir', size: 0, mtime: 0, mode });
const link = (target: string): Entry => ({ type: 'symlink', size: target.length, mtime: 0, mode: 0o777, target });

type Row = {
  name: string;
  in: Omit<PlanInput, 'path' | 'deleteEnabled'> & { path?: string; deleteEnabled?: boolean };
  op: string;
  reason?: string;
  replace?: boolean;
  /** the conflict copy's name, or null for none */
  keepAs?: string | null;
};
const keep = { host: 'h2' };
// 200 s after the epoch, as conflict names write it
const T200 = '19700101-000320';
const rows: Row[] = [
  { name: 'new file', in: { local: file(100), remote: null }, op: 'put' },
  { name: 'identical file is skipped (ends the loop)', in: { local: file(100), remote: file(100) }, op: 'skip', reason: 'equal' },
  { name: 'newer local file', in: { local: file(200), remote: file(100) }, op: 'put' },
  { name: 'older local file loses to a newer remote', in: { local: file(100), remote: file(200) }, op: 'skip', reason: 'remote-newer' },
  { name: 'older local file wins when the remote is what we last pushed (cp -p of a backup)', in: { local: file(100), remote: file(200), lastPushed: file(200) }, op: 'put' },
  { name: 'remote changed since our last push: newer wins', in: { local: file(100), remote: file(300), lastPushed: file(200) }, op: 'skip', reason: 'remote-newer' },
  { name: 'same mtime, bigger local wins the tie', in: { local: file(100, 20), remote: file(100, 10) }, op: 'put' },
  { name: 'same mtime, bigger remote wins the tie', in: { local: file(100, 10), remote: file(100, 20) }, op: 'skip', reason: 'remote-newer' },
  { name: 'mode only differs: setattr', in: { local: file(100, 10, 0o600), remote: file(100, 10, 0o644) }, op: 'setattr' },
  { name: 'file replaces a remote dir', in: { local: file(100), remote: dir() }, op: 'put', replace: true },
  { name: 'file replaces a remote symlink', in: { local: file(100), remote: link('x') }, op: 'put' },
  { name: 'new dir', in: { local: dir(), remote: null }, op: 'mkdir' },
  { name: 'same dir', in: { local: dir(), remote: dir() }, op: 'skip', reason: 'equal' },
  { name: 'dir mode differs, no memory: the higher mode wins (here the target\'s)', in: { local: dir(0o700), remote: dir() }, op: 'skip', reason: 'remote-newer' },
  { name: 'dir mode differs, no memory: the higher mode wins (here ours)', in: { local: dir(0o775), remote: dir() }, op: 'setattr' },
  { name: 'dir chmod here, the target still holds what we pushed: ours wins even if lower', in: { local: dir(0o700), remote: dir(), lastPushed: dir() }, op: 'setattr' },
  { name: 'dir changed on both sides since: the higher mode wins', in: { local: dir(0o700), remote: dir(0o750), lastPushed: dir() }, op: 'skip', reason: 'remote-newer' },
  { name: 'dir: cp -a\'s 0700 coming back round after the chmod does not undo it', in: { local: dir(0o700), remote: dir(0o755), lastPushed: undefined, live: true }, op: 'skip', reason: 'remote-newer' },
  { name: 'dir replaces a remote file', in: { local: dir(), remote: file(1) }, op: 'mkdir', replace: true },
  { name: 'new symlink', in: { local: link('a'), remote: null }, op: 'symlink' },
  { name: 'same symlink', in: { local: link('a'), remote: link('a') }, op: 'skip', reason: 'equal' },
  { name: 'symlink retargeted', in: { local: link('b'), remote: link('a') }, op: 'symlink' },
  { name: 'symlink replaces a dir', in: { local: link('b'), remote: dir() }, op: 'symlink', replace: true },
  { name: 'fifo is not replicated', in: { local: { type: 'other', size: 0, mtime: 1, mode: 0o644 }, remote: null }, op: 'skip', reason: 'unsupported' },
  { name: 'delete of an absent path is a no-op (ends the loop)', in: { local: null, remote: null }, op: 'skip', reason: 'absent' },
  { name: 'delete', in: { local: null, remote: file(100), deletedAt: 101_000 }, op: 'remove' },
  { name: 'delete in the same second', in: { local: null, remote: file(100), deletedAt: 100_500 }, op: 'remove' },
  { name: 'delete never removes a newer file', in: { local: null, remote: file(200), deletedAt: 101_000 }, op: 'skip', reason: 'remote-newer' },
  { name: 'delete of what we last pushed, even if dated ahead', in: { local: null, remote: file(200), lastPushed: file(200), deletedAt: 101_000 }, op: 'remove' },
  { name: 'delete disabled', in: { local: null, remote: file(100), deleteEnabled: false }, op: 'skip', reason: 'delete-disabled' },
  { name: 'delete of a dir tree', in: { local: null, remote: dir(), deletedAt: 1 }, op: 'remove' },
  { name: 'delete of a symlink', in: { local: null, remote: link('x'), deletedAt: 1 }, op: 'remove' },

  // conflicts: both changed since this link last pushed (M = file(100))
  { name: 'conflict: both changed, ours newer: ours is sent', in: { local: file(300), remote: file(200), lastPushed: file(100) }, op: 'put', keepAs: null },
  { name: 'conflict: both changed, theirs newer: skipped, theirs travels on', in: { local: file(200), remote: file(300), lastPushed: file(100) }, op: 'skip', reason: 'remote-newer' },
  { name: 'conflict: same second, the larger wins (ours)', in: { local: file(200, 20), remote: file(200, 10), lastPushed: file(100) }, op: 'put' },
  { name: 'conflict: same second, the larger wins (theirs)', in: { local: file(200, 10), remote: file(200, 20), lastPushed: file(100) }, op: 'skip', reason: 'remote-newer' },
  { name: 'conflict: same second and size, the higher mode wins (ours; contents look equal, so only the mode is set)', in: { local: file(200, 10, 0o664), remote: file(200, 10, 0o644), lastPushed: file(100) }, op: 'setattr' },
  { name: 'conflict: same second and size, the higher mode wins (theirs)', in: { local: file(200, 10, 0o644), remote: file(200, 10, 0o664), lastPushed: file(100) }, op: 'skip', reason: 'remote-newer' },
  { name: 'mode-only change there and here since we met: the higher mode wins', in: { local: file(100, 10, 0o600), remote: file(100, 10, 0o640), lastPushed: file(100) }, op: 'skip', reason: 'remote-newer' },
  { name: 'only the target changed (we still hold M): newer wins, here theirs', in: { local: file(100), remote: file(200), lastPushed: file(100) }, op: 'skip', reason: 'remote-newer' },
  { name: 'only the target changed, in the same second as M but smaller: M wins (one order for the whole ring)', in: { local: file(100, 20), remote: file(100, 10), lastPushed: file(100, 20) }, op: 'put' },
  { name: 'only the target changed, to an older date: newer wins (ours; the ring needs one order)', in: { local: file(200), remote: file(100), lastPushed: file(200) }, op: 'put' },
  { name: 'cp -p: our older-dated change wins over the M the target still holds', in: { local: file(50), remote: file(100), lastPushed: file(100) }, op: 'put', keepAs: null },

  // conflicts: keep
  { name: 'keep: both changed, ours wins: theirs is kept as a conflict copy named after the target', in: { path: 'd/photo.jpg', local: file(300), remote: file(200), lastPushed: file(100), keep }, op: 'put', keepAs: `d/photo.chain-conflict-h2-${T200}.jpg` },
  { name: 'keep: only the target changed and loses the tie: it is kept', in: { path: 'a', local: file(200, 20), remote: file(200, 10), lastPushed: file(200, 20), keep }, op: 'put', keepAs: `a.chain-conflict-h2-${T200}` },
  { name: 'keep: the target did not change: plain put, nothing to keep', in: { local: file(300), remote: file(200), lastPushed: file(200), keep }, op: 'put', keepAs: null },
  { name: 'keep: theirs wins: nothing kept here (ours is kept on our side when theirs arrives)', in: { local: file(200), remote: file(300), lastPushed: file(100), keep }, op: 'skip', reason: 'remote-newer' },
  { name: 'keep: no memory of the path, pushed as it happens: a conflict, kept', in: { path: '.bashrc', local: file(300), remote: file(200), keep, live: true }, op: 'put', keepAs: `.bashrc.chain-conflict-h2-${T200}` },
  { name: 'keep: no memory of the path, full-tree compare: not a conflict, nothing kept', in: { local: file(300), remote: file(200), keep }, op: 'put', keepAs: null },
  { name: 'keep: a mode-only conflict keeps nothing', in: { local: file(200, 10, 0o664), remote: file(200, 10, 0o644), lastPushed: file(100), keep }, op: 'setattr' },
  { name: 'keep: a delete wins over an older edit made there since we met: the edit is kept', in: { path: 'x.txt', local: null, remote: file(200), lastPushed: file(100), deletedAt: 250_000, keep }, op: 'remove', keepAs: `x.chain-conflict-h2-${T200}.txt` },
  { name: 'keep: a delete of what we last pushed: nothing to keep', in: { local: null, remote: file(200), lastPushed: file(200), deletedAt: 250_000, keep }, op: 'remove', keepAs: null },
  { name: 'keep: an edit there newer than the delete: skipped, the edit travels on', in: { local: null, remote: file(300), lastPushed: file(100), deletedAt: 250_000, keep }, op: 'skip', reason: 'remote-newer' },

  // the target lost what we gave it
  { name: 'live: the target deleted what we last pushed and we did not change: its delete wins', in: { local: file(100), remote: null, lastPushed: file(100), live: true }, op: 'skip', reason: 'remote-changed' },
  { name: 'live: the target deleted it but we changed it since: ours is sent', in: { local: file(200), remote: null, lastPushed: file(100), live: true }, op: 'put' },
  { name: 'live: a symlink deleted there: its delete wins', in: { local: link('a'), remote: null, lastPushed: link('a'), live: true }, op: 'skip', reason: 'remote-changed' },
  { name: 'live: a directory deleted there: its delete wins', in: { local: dir(), remote: null, lastPushed: dir(), live: true }, op: 'skip', reason: 'remote-changed' },
  { name: 'full-tree compare: a path the target lacks is sent, whatever we last pushed (a host that lost its disk)', in: { local: file(100), remote: null, lastPushed: file(100) }, op: 'put' },
  { name: 'live: no memory of it: a path the target lacks is sent', in: { local: file(100), remote: null, live: true }, op: 'put' },
];

for (const r of rows) {
  test(`plan: ${r.name}`, () => {
    const a = planPath({ path: 'p', deleteEnabled: true, ...r.in });
    assert.equal(a.op, r.op);
    if (r.reason) assert.equal((a as { reason?: string }).reason, r.reason);
    if (r.replace !== undefined) assert.equal(!!(a as { replace?: unknown }).replace, r.replace);
    if (r.keepAs !== undefined) assert.equal((a as { keepAs?: string }).keepAs ?? null, r.keepAs);
  });
}
