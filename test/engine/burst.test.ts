// BurstSettle: a burst's top directories, rescanned once it has settled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BurstSettle } from '../../src/engine/burst.js';
import type { PendingChange } from '../../src/core/types.js';
import { until } from '../support/tree.js';

const settled = (ms: number) => {
  const got: PendingChange[][] = [];
  return { got, s: new BurstSettle(ms, (c) => got.push(c)) };
};
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('the top directories of a burst, once, when no new burst batch came for settleMs; since = its start', async () => {
  const { got, s } = settled(500);
  s.add(['up/2026/a', 'up/2026/b', 'cache/x'], 1000);
  await wait(20);
  s.add(['up/2026/c'], 2000); // still going: the wait starts again
  assert.equal(got.length, 0, 'not settled yet');
  await until(() => got.length > 0, 10_000, 'the burst to settle', 20);
  assert.deepEqual(got.map((g) => g.map((c) => [c.path, c.tree, c.since])), [
    [
      ['cache', true, 1000],
      ['up', true, 1000],
    ],
  ]);
  s.add(['next/x'], 5000);
  await until(() => got.length > 1, 10_000, 'the next burst to settle', 20);
  assert.deepEqual(got[1]?.map((c) => [c.path, c.since]), [['next', 5000]], 'a new burst starts afresh');
});

test('a burst at the root rescans the root; a cancelled one nothing', async () => {
  const { got, s } = settled(20);
  s.add(['', 'up/a'], 1);
  await until(() => got.length > 0, 10_000, 'the burst to settle', 10);
  assert.deepEqual(got.map((g) => g.map((c) => c.path)), [['']]);
  s.add(['up/b'], 2);
  s.cancel();
  await wait(200); // (proving a negative: several settle times)
  assert.equal(got.length, 1);
});
