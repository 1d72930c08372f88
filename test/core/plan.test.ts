import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planPath, type PlanInput } from '../../src/core/plan.js';
import type { Entry } from '../../src/core/types.js';

const file = (mtime: number, size = 10, mode = 0o644): Entry => ({ type: 'file', size, mtime, mode });
const dir = (mode = 0o755): Entry => ({ type: 'dir', size: 0, mtime: 0, mode });
const link = (target: string): Entry => ({ type: 'symlink', size: target.length, mtime: 0, mode: 0o777, target });

type Row = { name: string; in: Omit<PlanInput, 'path' | 'deleteEnabled'> & { deleteEnabled?: boolean }; op: string; reason?: string; replace?: boolean };
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
  { name: 'dir mode differs', in: { local: dir(0o700), remote: dir() }, op: 'setattr' },
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
];

for (const r of rows) {
  test(`plan: ${r.name}`, () => {
    const a = planPath({ path: 'p', deleteEnabled: true, ...r.in });
    assert.equal(a.op, r.op);
    if (r.reason) assert.equal((a as { reason?: string }).reason, r.reason);
    if (r.replace !== undefined) assert.equal(!!(a as { replace?: unknown }).replace, r.replace);
  });
}
