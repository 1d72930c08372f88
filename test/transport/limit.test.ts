import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Limit } from '../../src/transport/limit.js';

const tick = () => new Promise((r) => setImmediate(r));

test('never runs more than max at once, and runs everything in order of arrival', async () => {
  const limit = new Limit(3);
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      limit.run(async () => {
        started.push(i);
        peak = Math.max(peak, ++running);
        await tick();
        running--;
      }),
    ),
  );
  assert.equal(peak, 3);
  assert.deepEqual(started, Array.from({ length: 50 }, (_, i) => i));
  assert.equal(limit.running, 0);
  assert.equal(limit.waiting, 0);
});

test('first: a waiter asked for first goes ahead of those already waiting, the rest keep their order', async () => {
  // served: how many queued waiters had their turn before the urgent one came (the queue's head
  // index moves past them, so the urgent one goes into a freed place or at the very front)
  for (const served of [0, 2]) {
    const limit = new Limit(1);
    const order: string[] = [];
    const gates: (() => void)[] = [];
    const task = (name: string) => async () => {
      order.push(name);
      await new Promise<void>((r) => gates.push(r));
    };
    const hold = await limit.acquire();
    const runs = Array.from({ length: 5 }, (_, i) => limit.run(task(`q${i}`)));
    hold();
    for (let i = 0; i < served; i++) {
      await tick();
      gates.shift()!(); // q0 (then q1) done: the slot goes to the next in line
    }
    await tick();
    const urgent = limit.run(task('urgent'), true);
    while (order.length < 6) {
      await tick();
      gates.shift()?.();
    }
    await tick();
    gates.shift()?.();
    await Promise.all([...runs, urgent]);
    // the one running when it came finishes first; the urgent one is next
    assert.deepEqual(order.slice(0, served + 2), [...Array.from({ length: served + 1 }, (_, i) => `q${i}`), 'urgent'], order.join(' '));
    assert.deepEqual(order.filter((x) => x !== 'urgent'), ['q0', 'q1', 'q2', 'q3', 'q4']);
    assert.equal(limit.running, 0);
  }
});

test('a failing task gives its slot back', async () => {
  const limit = new Limit(1);
  await assert.rejects(limit.run(async () => Promise.reject(new Error('boom'))));
  assert.equal(await limit.run(async () => 42), 42);
});

test('releasing twice is harmless', async () => {
  const limit = new Limit(1);
  const release = await limit.acquire();
  release();
  release();
  assert.equal(limit.running, 0);
  const r2 = await limit.acquire();
  assert.equal(limit.running, 1);
  r2();
});

test('a long queue drains (index-based FIFO compaction)', async () => {
  const limit = new Limit(2);
  let done = 0;
  await Promise.all(Array.from({ length: 5000 }, () => limit.run(async () => void done++)));
  assert.equal(done, 5000);
});

test('max below 1 is refused', () => {
  assert.throws(() => new Limit(0), RangeError);
});

test('tryAcquire: a slot at once while one is free, none (and no queueing) when all are taken', async () => {
  const limit = new Limit(2);
  const a = limit.tryAcquire();
  const b = limit.tryAcquire();
  assert.ok(a && b);
  assert.equal(limit.tryAcquire(), undefined);
  assert.equal(limit.waiting, 0, 'a refused tryAcquire does not wait in line');
  const queued = limit.acquire();
  a();
  const c = await queued; // a waiter gets the freed slot before any later tryAcquire
  assert.equal(limit.tryAcquire(), undefined);
  b();
  c();
  assert.equal(limit.running, 0);
});
