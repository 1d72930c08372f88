// StreamPlanner: what starts while the trees are still being listed, fed directory events by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/core/types.js';
import { Listings } from '../../src/core/listings.js';
import type { RepairAction, ReconcileOptions } from '../../src/core/reconcile.js';
import { StreamPlanner } from '../../src/engine/repair-stream.js';

const F = (mtime: number, size = 10): Entry => ({ type: 'file', size, mtime, mode: 0o644 });
const D = (mode = 0o755): Entry => ({ type: 'dir', size: 4096, mtime: 100, mode });
const HOSTS = ['h1', 'h2', 'h3'];

/** a table grown the way listings grow it: each host's entries added as that host lists a directory */
function setup(trees: Record<string, Entry>[], o: Partial<ReconcileOptions> = {}) {
  const l = new Listings(HOSTS.slice(0, trees.length));
  const started: string[] = [];
  const sp = new StreamPlanner(l, { mode: { kind: 'ring' }, delete: false, conflicts: 'newer', ...o }, trees.map(() => true), (h, a: RepairAction) =>
    started.push(`${HOSTS[h]} ${a.op} ${a.path}`),
  );
  /** host h lists directory dir: its entries go into the table, then the event */
  const list = (h: number, dir: string) => {
    const rows: number[] = [];
    for (const [p, e] of Object.entries(trees[h]!)) {
      const parent = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
      if (parent !== dir) continue;
      const r = l.add(p, dir === '' ? -1 : l.row(dir)!);
      l.set(h, r, e);
      rows.push(r);
    }
    sp.onDir(h, dir === '' ? -1 : l.row(dir)!, rows);
  };
  return { l, sp, started, list };
}

test('nothing starts before every host has listed a directory; then its safe entries start', () => {
  const base = { 'a.txt': F(100), d: D(), 'd/x': F(100) };
  const { started, list } = setup([{ ...base, 'new.txt': F(200) }, base, { ...base, 'd/y': F(300) }]);
  list(0, '');
  list(1, '');
  assert.deepEqual(started, []);
  list(2, '');
  assert.deepEqual(started.sort(), ['h2 copy new.txt', 'h3 copy new.txt']);
  started.length = 0;
  list(2, 'd');
  list(0, 'd');
  assert.deepEqual(started, [], 'h2 holds d too and has not listed it');
  list(1, 'd');
  assert.deepEqual(started.sort(), ['h1 copy d/y', 'h2 copy d/y']);
});

test('a directory others lack is made at once, and what is in it follows once listed', () => {
  const { started, list } = setup([{ up: D(), 'up/a': F(1) }, { z: F(1) }, { z: F(1) }]);
  list(0, '');
  list(1, '');
  list(2, '');
  assert.deepEqual(started.sort(), ['h1 copy z', 'h2 mkdir up', 'h3 mkdir up']);
  started.length = 0;
  list(0, 'up');
  assert.deepEqual(started.sort(), ['h2 copy up/a', 'h3 copy up/a']);
});

test('an empty root (whole ring) starts nothing; deletes and type changes wait for the full plan', () => {
  const one = setup([{ a: F(1) }, {}, { a: F(1) }]);
  for (const h of [0, 1, 2]) one.list(h, '');
  assert.deepEqual(one.started, [], 'the full plan will stop this repair');

  const two = setup([{ x: F(500), fresh: D() }, { x: D(), 'x/in': F(1), old: F(1) }], { mode: { kind: 'link', source: 0, target: 1 }, delete: true });
  two.list(0, '');
  two.list(1, '');
  two.list(1, 'x');
  assert.deepEqual(two.started, ['h2 mkdir fresh'], 'a file replacing a directory and a delete wait; a new directory does not');
});

test('a host that stops answering is not waited for', () => {
  const { sp, started, list } = setup([{ n: F(2) }, { n: F(1) }, { n: F(1) }]);
  list(0, '');
  list(1, '');
  sp.hostDown(2);
  assert.deepEqual(started, ['h2 copy n']);
});

test('wasStarted tells the full plan what to leave out', () => {
  const { l, sp, list } = setup([{ n: F(2) }, { n: F(1) }]);
  list(0, '');
  list(1, '');
  assert.equal(sp.wasStarted(1, l.row('n')!), true);
  assert.equal(sp.wasStarted(0, l.row('n')!), false);
});

test('a file every host holds starts when the last of them reports it, before any root is complete, and only once', () => {
  const link = { mode: { kind: 'link' as const, source: 0, target: 1 }, delete: true };
  const { started, list } = setup([{ d: D(), 'd/f': F(200), 'd/same': F(1), 'd/new': F(1) }, { d: D(), 'd/f': F(100), 'd/same': F(1), 'd/old': F(1) }], link);
  // host2 (over SFTP) lists its root, then d; host1 (a walk) completes d long before its root
  list(1, '');
  list(1, 'd');
  assert.deepEqual(started, []);
  list(0, 'd');
  assert.deepEqual(started, ['h2 copy d/f'], 'held by both: decided now; d/new and d/old need the listings of d and the roots');
  list(0, '');
  assert.deepEqual(started.sort(), ['h2 copy d/f', 'h2 copy d/new'], 'd/f is not started again; the delete of d/old waits for the full plan');
});

test('held everywhere but a directory somewhere, or missing on one host of three: waits as before', () => {
  const { started, list } = setup([{ x: F(300), y: F(300) }, { x: D(), y: F(100) }, { x: F(100) }]);
  list(0, '');
  list(1, '');
  assert.deepEqual(started, [], 'x is a directory on h2; y is not on h3 yet');
});
