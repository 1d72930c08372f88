// Holds (engine/holds.ts): what they cover and for how long, which prefixes a batch holds, how the
// queue keeps our own changes back under one, the inbox notices that carry them, and a tree the
// push engine leaves for later under one.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Holds, holdPrefixes, HOLD_MIN_BATCH } from '../../src/engine/holds.js';
import { ChangeQueue } from '../../src/engine/queue.js';
import { drainInbox, sendManifest, type HoldNotice } from '../../src/engine/inbox.js';
import { pushBatch } from '../../src/engine/push.js';
import { LinkMemory } from '../../src/engine/memory.js';
import { LocalRemote } from '../../src/transport/local.js';
import { compileExclude } from '../../src/core/exclude.js';
import { silentLogger } from '../../src/core/log.js';
import type { PendingChange } from '../../src/core/types.js';

let dir: string;
beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'chain-holds-'))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const clock = (t = 1_000_000) => {
  const c = { t, now: () => c.t };
  return c;
};

const coverCases: { name: string; hold: string[]; path: string; want: boolean }[] = [
  { name: 'the prefix itself', hold: ['up'], path: 'up', want: true },
  { name: 'under the prefix', hold: ['up'], path: 'up/2026/a.jpg', want: true },
  { name: 'a sibling sharing the name start', hold: ['up'], path: 'uploads/a', want: false },
  { name: 'another top directory', hold: ['up'], path: 'other/a', want: false },
  { name: 'the root is not under a prefix', hold: ['up'], path: '', want: false },
  { name: "'' holds everything", hold: [''], path: 'any/where', want: true },
  { name: 'one of several prefixes', hold: ['a', 'b'], path: 'b/x', want: true },
];
for (const c of coverCases) {
  test(`hold covers: ${c.name} → ${c.want}`, () => {
    const h = new Holds(5000);
    h.update('host1', { hold: c.hold });
    assert.equal(h.covers(c.path), c.want);
  });
}

test('a hold ends with its release, lapses maxMs after its last renewal, and any manifest of the sender renews it', () => {
  const c = clock();
  const h = new Holds(5000, c.now);
  h.update('host1', { hold: ['up'] });
  c.t += 4000;
  h.update('host1', {}); // a streamed manifest
  c.t += 4000;
  assert.equal(h.covers('up/a'), true, 'renewed 4 s ago');
  c.t += 1001;
  assert.equal(h.covers('up/a'), false, 'lapsed');
  assert.equal(h.active, false);
  h.update('host1', { hold: ['up'] });
  h.update('host9', {}); // another sender's manifest renews nothing of host1's
  h.update('host1', { release: true });
  assert.equal(h.covers('up/a'), false, 'released');
});

const ch = (path: string, extra: Partial<PendingChange> = {}): PendingChange => ({ path, kind: 'change', since: 0, at: 0, ...extra });
const many = (n: number, f: (i: number) => string) => Array.from({ length: n }, (_, i) => ch(f(i)));
const prefixCases: { name: string; batch: PendingChange[]; want: string[] | null }[] = [
  { name: 'a small batch holds nothing', batch: many(HOLD_MIN_BATCH - 1, (i) => `up/f${i}`), want: null },
  { name: 'a small batch with a tree holds its top', batch: [ch('up/new', { tree: true })], want: ['up'] },
  { name: 'a burst holds its top directories', batch: [...many(20, (i) => `up/d/f${i}`), ...many(20, (i) => `cache/f${i}`), ch('top.txt')], want: ['cache', 'top.txt', 'up'] },
  { name: 'the root in a batch holds everything', batch: [ch('', { tree: true }), ...many(20, (i) => `up/f${i}`)], want: [''] },
  { name: 'more than 64 top directories: everything', batch: many(70, (i) => `d${i}/f`), want: [''] },
];
for (const c of prefixCases) {
  test(`hold prefixes: ${c.name}`, () => assert.deepEqual(holdPrefixes(c.batch), c.want));
}

test('queue: our own changes under a hold wait; the arrival naming one takes it along; the rest goes at the release', () => {
  const holds = new Holds(60_000);
  const q = new ChangeQueue(1_000_000, undefined, holds);
  holds.update('host1', { hold: ['up'] });
  q.addEvents([
    { kind: 'create', path: 'up/a.jpg', at: 1 },
    { kind: 'create', path: 'up/b.jpg', at: 2 },
    { kind: 'create', path: 'mine.txt', at: 3 },
  ]);
  q.flush();
  assert.deepEqual(q.take(10).map((c) => c.path), ['mine.txt'], 'outside the hold: at once');
  assert.equal(q.pending, 2, 'two wait');
  q.addReady([{ path: 'up/a.jpg', kind: 'change', since: 5, at: 5, arrived: { hops: 1, origin: 'host1' } }]);
  const arrived = q.take(10);
  assert.deepEqual(arrived.map((c) => [c.path, c.arrived?.origin, c.since]), [['up/a.jpg', 'host1', 1]], 'one change: the arrival, since our event');
  q.releaseHeld();
  assert.deepEqual(q.take(10), [], 'still held');
  holds.update('host1', { release: true });
  q.releaseHeld();
  assert.deepEqual(q.take(10).map((c) => c.path), ['up/b.jpg']);
  assert.equal(q.pending, 0);
  q.close();
});

test('queue: a rescan under a hold waits with our own events; outside it, it goes at once', () => {
  const holds = new Holds(60_000);
  const q = new ChangeQueue(1_000_000, undefined, holds);
  holds.update('host1', { hold: ['b0'] });
  q.addRescan([
    { path: 'b0/d1', kind: 'change', since: 1, at: 1 },
    { path: 'mine', kind: 'change', since: 1, at: 1 },
  ]);
  assert.deepEqual(q.take(10).map((c) => c.path), ['mine']);
  holds.update('host1', { release: true });
  q.releaseHeld();
  assert.deepEqual(q.take(10).map((c) => [c.path, c.tree]), [['b0/d1', true]]);
  q.close();
});

test('queue: a change waits for a hold at most maxMs; a shutdown flush lets everything go', async () => {
  const holds = new Holds(60_000);
  const q = new ChangeQueue(1_000_000, undefined, { covers: (p) => holds.covers(p), maxMs: 50 });
  holds.update('host1', { hold: [''] });
  q.addEvents([{ kind: 'create', path: 'f', at: 1 }]);
  q.flush();
  assert.equal(q.take(10).length, 0);
  const alive = setTimeout(() => {}, 10_000); // (the queue's own timer does not keep a process up)
  await q.whenReady(); // woken by its own deadline, not by anyone releasing the hold
  clearTimeout(alive);
  assert.deepEqual(q.take(10).map((c) => c.path), ['f']);
  q.addEvents([{ kind: 'create', path: 'g', at: 2 }]);
  q.flush(true);
  assert.deepEqual(q.take(10).map((c) => c.path), ['g'], 'shutdown: not held back');
  q.close();
});

test('inbox: a hold and its release travel in manifests, in order, with the sender; unsafe prefixes are dropped', async () => {
  const root = join(dir, 'root');
  mkdirSync(root);
  const target = new LocalRemote(root, 'b');
  await sendManifest(target, 'a', [], { hold: ['up', '../etc', 'x'] });
  await sendManifest(target, 'a', [{ path: 'up/f', kind: 'change', at: 1 }]);
  await sendManifest(target, 'a', [], { release: true });
  await sendManifest(target, 'a', []); // nothing to say: no manifest
  const seen: [string, HoldNotice][] = [];
  const changes = await drainInbox(root, undefined, (from, n) => seen.push([from, n]));
  assert.deepEqual(changes.map((c) => c.path), ['up/f']);
  assert.deepEqual(seen, [['a', { hold: ['up', 'x'] }], ['a', {}], ['a', { release: true }]]);
});

test('push: a new tree the predecessor is still writing into is made, not sent on; it is left for after the hold', async () => {
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  mkdirSync(join(a, 'up/d'), { recursive: true });
  mkdirSync(b);
  writeFileSync(join(a, 'up/d/f1'), 'written by the predecessor, not announced yet');
  writeFileSync(join(a, 'up/d/f2'), 'announced');
  const later: string[] = [];
  const ctx = {
    source: new LocalRemote(a, 'a'),
    target: new LocalRemote(b, 'b'),
    exclude: compileExclude([]),
    deleteEnabled: true,
    memory: new LinkMemory(),
    log: silentLogger,
    ringSize: 3,
    deferTree: (p: string) => (p === 'up' || p.startsWith('up/') ? (later.push(p), true) : false),
  };
  const r = await pushBatch(ctx, [ch('up', { arrived: { hops: 1 } }), ch('up/d/f2', { arrived: { hops: 1 } })]);
  assert.deepEqual(r.failed, []);
  assert.ok(existsSync(join(b, 'up')), 'the directory is made');
  assert.ok(existsSync(join(b, 'up/d/f2')), 'an announced file in it goes its own way');
  assert.ok(!existsSync(join(b, 'up/d/f1')), 'the rest waits for its own manifest, or the compare after the hold');
  assert.deepEqual(later, ['up']);
});
