// ChangeQueue: the window, ready changes, and rescans of a watcher burst.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChangeQueue } from '../../src/engine/queue.js';

test('a rescan of a burst goes at once (not with the window), and keeps its tree mark', () => {
  const q = new ChangeQueue(1_000_000);
  q.addEvents([{ kind: 'create', path: 'b0/d0/f1', at: 1 }]);
  q.addRescan([{ path: 'b0/d0', kind: 'change', since: 2, at: 2 }]);
  assert.deepEqual(q.take(10).map((c) => [c.path, !!c.tree]), [['b0/d0', true]], 'the rescan is ready before the window closes');
  q.flush();
  assert.deepEqual(q.take(10).map((c) => c.path), ['b0/d0/f1']);
  q.close();
});

test('a rescan of a path already ready marks it as a tree', () => {
  const q = new ChangeQueue(1_000_000);
  q.addReady([{ path: 'd', kind: 'change', since: 1, at: 1 }]);
  q.addRescan([{ path: 'd', kind: 'change', since: 2, at: 2, tree: true }]);
  assert.deepEqual(q.take(10).map((c) => [c.path, !!c.tree, c.since]), [['d', true, 1]]);
  q.close();
});
