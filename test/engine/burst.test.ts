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
/** a watcher batch of these paths */
const ev = (...paths: string[]) => paths.map((path) => ({ path }));

test('the top directories of a burst, once, when no new burst batch came for settleMs; since = its start; every directory under them (full)', async () => {
  const { got, s } = settled(500);
  s.add(['up/2026/a', 'up/2026/b', 'cache/x'], 1000);
  await wait(20);
  s.add(['up/2026/c'], 2000); // still going: the wait starts again
  assert.equal(got.length, 0, 'not settled yet');
  await until(() => got.length > 0, 10_000, 'the burst to settle', 20);
  assert.deepEqual(got.map((g) => g.map((c) => [c.path, c.tree, c.full, c.since])), [
    [
      ['cache', true, true, 1000],
      ['up', true, true, 1000],
    ],
  ]);
  s.add(['next/x'], 5000);
  await until(() => got.length > 1, 10_000, 'the next burst to settle', 20);
  assert.deepEqual(got[1]?.map((c) => [c.path, c.since]), [['next', 5000]], 'a new burst starts afresh');
});

test('a burst at the root: alone, the root in full; beside other tops, the root only where it changed; a cancelled one nothing', async () => {
  const { got, s } = settled(20);
  s.add([''], 1); // files written straight into the root
  await until(() => got.length > 0, 10_000, 'the burst to settle', 10);
  // a new directory in the root (its parent) and what was written into it: not every directory
  // of the whole tree, only the new one's (engine/push.ts compares the root's entries)
  s.add(['', 'up', 'up/a'], 2);
  await until(() => got.length > 1, 10_000, 'the second burst to settle', 10);
  assert.deepEqual(got.map((g) => g.map((c) => [c.path, c.tree, c.full])), [[['', true, true]], [['', true, undefined], ['up', true, true]]]);
  s.add(['up/b'], 3);
  s.cancel();
  await wait(200); // (proving a negative: several settle times)
  assert.equal(got.length, 2);
});

test('a pending rescan waits while its directories still change (a slow copy), up to maxMs after the last burst batch; other directories do not hold it', async () => {
  // (margins for a loaded machine: a flake needs the event loop to stall for a whole settle time)
  const got: PendingChange[][] = [];
  const s = new BurstSettle(400, (c) => got.push(c), { maxMs: 2000 });
  s.add(['up/a']);
  // events elsewhere: no effect, it settles after ~400 ms
  s.activity(ev('cache/x', 'other'));
  await until(() => got.length > 0, 10_000, 'the burst to settle', 10);
  assert.deepEqual(got[0]!.map((c) => c.path), ['up']);

  // small batches under up/ every 40 ms for ~1.2 s: it waits until 400 ms after the last
  s.add(['up/b']);
  const start = Date.now();
  while (Date.now() - start < 1200) {
    s.activity(ev('up/b/f' + (Date.now() - start)));
    await wait(40);
    assert.equal(got.length, 1, `settled while up/ still changed (after ${Date.now() - start} ms)`);
  }
  await until(() => got.length > 1, 10_000, 'the slow copy to settle', 10);
  assert.ok(Date.now() - start >= 1200, 'not before the copy went quiet');

  // a directory that never stops changing: rescanned anyway, maxMs after the burst's last large batch
  s.add(['up/c']);
  const burstAt = Date.now();
  while (got.length < 3 && Date.now() - burstAt < 20_000) {
    s.activity(ev('up/c/more'));
    await wait(40);
  }
  assert.equal(got.length, 3, 'rescanned while still changing');
  const waited = Date.now() - burstAt;
  assert.ok(waited >= 1900 && waited < 15_000, `rescanned ${waited} ms after the last burst batch (maxMs 2000)`);
  s.cancel();
});

test('many events in small batches within settleMs are a burst of their top directories; the same spread thinly are not', async () => {
  // the batches' times are given (the window is counted in the caller's clock); only the rescan's
  // own timer runs in real time
  const cases: { name: string; batches: number; size: number; gapMs: number; burst: boolean }[] = [
    { name: '10 batches of 100 at once', batches: 10, size: 100, gapMs: 0, burst: true },
    { name: '4 batches of 300, 30 ms apart', batches: 4, size: 300, gapMs: 30, burst: true },
    { name: '9 batches of 111: 999 events, one short', batches: 9, size: 111, gapMs: 0, burst: false },
    { name: '10 batches of 100, 120 ms apart (a window of 100 ms)', batches: 10, size: 100, gapMs: 120, burst: false },
  ];
  for (const c of cases) {
    const got: PendingChange[][] = [];
    const s = new BurstSettle(100, (x) => got.push(x), { burst: 1000 });
    const first = 5_000_000;
    for (let b = 0; b < c.batches; b++) s.activity(ev(...Array.from({ length: c.size }, (_, i) => `${b % 2 ? 'up' : 'media'}/d${b}/f${i}`)), first + b * c.gapMs);
    await wait(400); // (several settle times: long enough to see a rescan, or to prove there is none)
    if (!c.burst) {
      assert.equal(got.length, 0, c.name);
      continue;
    }
    assert.equal(got.length, 1, c.name);
    assert.deepEqual(
      got[0]!.map((x) => [x.path, x.since]),
      [
        ['media', first],
        ['up', first],
      ],
      `${c.name}: its top directories, since = the first of its batches`,
    );
    s.cancel();
  }
});

test('while one burst waits to settle, a slow burst in another top directory is counted and joins it', async () => {
  const got: PendingChange[][] = [];
  const s = new BurstSettle(300, (c) => got.push(c), { burst: 1000 });
  s.add(['up/a'], 1000);
  // 1,000 events under media/ in small batches, within the settle time: media joins the pending rescan
  for (let b = 0; b < 10; b++) s.activity(ev(...Array.from({ length: 100 }, (_, i) => `media/d${b}/f${i}`)), 1100 + b);
  await until(() => got.length > 0, 10_000, 'the bursts to settle', 20);
  assert.deepEqual(got[0]!.map((c) => [c.path, c.since]), [
    ['media', 1000],
    ['up', 1000],
  ]);
});

test('the top directories of a burst of small batches: a name that only starts like the previous top is a top of its own', async () => {
  const got: PendingChange[][] = [];
  const s = new BurstSettle(100, (c) => got.push(c), { burst: 6 });
  s.activity(ev('up', 'up/a', 'up/a/b', 'upload/x', 'uploads', 'z/1'), 7_000_000);
  await until(() => got.length > 0, 10_000, 'the burst to settle', 10);
  assert.deepEqual(got[0]!.map((c) => c.path), ['up', 'upload', 'uploads', 'z']);
});
