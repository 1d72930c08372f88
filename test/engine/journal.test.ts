import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, appendFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Journal } from '../../src/engine/journal.js';
import type { PendingChange } from '../../src/core/types.js';

const c = (path: string, kind: PendingChange['kind'] = 'change', at = 1): PendingChange => ({ path, kind, since: at, at });
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'chain-journal-'));
  dirs.push(d);
  return join(d, 'q', 'host2.jsonl');
};
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const rows: { name: string; ops: (j: Journal) => void; want: string[] }[] = [
  { name: 'adds survive reopening', ops: (j) => j.add([c('a'), c('b')]), want: ['a', 'b'] },
  { name: 'done removes', ops: (j) => (j.add([c('a'), c('b')]), j.done(['a'])), want: ['b'] },
  { name: 'order of first change is kept when a path changes again', ops: (j) => (j.add([c('a'), c('b')]), j.add([c('a', 'change', 5)])), want: ['a', 'b'] },
  { name: 'a path re-added after done comes back', ops: (j) => (j.add([c('a')]), j.done(['a']), j.add([c('a')])), want: ['a'] },
  { name: 'names with newlines, tabs, quotes', ops: (j) => j.add([c('x\ny'), c('t\tab'), c('q"uote')]), want: ['x\ny', 't\tab', 'q"uote'] },
];

test('journal: rescans keep their kind (a directory, the whole subtree, every directory by what the link knows)', () => {
  const f = tmp();
  const j = new Journal(f);
  j.add([{ ...c('one'), tree: true }, { ...c('deep'), tree: true, deep: true }, { ...c('full'), tree: true, full: true }, c('plain')]);
  j.add([{ ...c('plain'), tree: true, full: true }]);
  j.close();
  const kinds = (p: PendingChange) => [p.path, !!p.tree, !!p.deep, !!p.full];
  assert.deepEqual(new Journal(f).pending().map(kinds), [
    ['one', true, false, false],
    ['deep', true, true, false],
    ['full', true, false, true],
    ['plain', true, false, true],
  ]);
});

for (const r of rows) {
  test(`journal: ${r.name}`, () => {
    const f = tmp();
    const j = new Journal(f);
    r.ops(j);
    j.close();
    assert.deepEqual(new Journal(f).pending().map((p) => p.path), r.want);
  });
}

test('journal keeps the kind and delete time of the last change', () => {
  const f = tmp();
  const j = new Journal(f);
  j.add([c('a', 'change', 1)]);
  j.add([c('a', 'delete', 9)]);
  j.close();
  const [p] = new Journal(f).pending();
  assert.equal(p.kind, 'delete');
  assert.equal(p.at, 9);
  assert.equal(p.since, 1);
});

test('a torn last line (crash mid-write) is ignored', () => {
  const f = tmp();
  const j = new Journal(f);
  j.add([c('a')]);
  j.close();
  appendFileSync(f, '["+","c",1,1,"b');
  assert.deepEqual(new Journal(f).pending().map((p) => p.path), ['a']);
});

test('compaction keeps exactly the live entries', () => {
  const f = tmp();
  const j = new Journal(f);
  for (let i = 0; i < 3000; i++) j.add([c(`p${i}`)]);
  j.done(Array.from({ length: 2990 }, (_, i) => `p${i}`));
  j.compact();
  j.close();
  assert.equal(readFileSync(f, 'utf8').trim().split('\n').length, 10);
  assert.deepEqual(new Journal(f).pending().map((p) => p.path), Array.from({ length: 10 }, (_, i) => `p${2990 + i}`));
  rmSync(f);
});

// ---- group commit --------------------------------------------------------------------------------
// Lines queued in one tick go to disk in one write + fdatasync off the event loop; lines queued
// while that is in flight join the next. "Crash" = open the file with a second Journal while the
// first is still open (nothing closed, nothing flushed at exit): it sees exactly what is durable.

const tick = () => new Promise<void>((r) => queueMicrotask(r));
const crashView = (f: string) => new Journal(f).pending().map((p) => p.path);

const groupRows: { name: string; ops: (j: Journal) => Promise<unknown>; want: string[]; syncs: number }[] = [
  {
    name: 'many adds in one tick: one fdatasync',
    ops: (j) => Promise.all(Array.from({ length: 50 }, (_, i) => j.add([c(`p${i}`)]))),
    want: Array.from({ length: 50 }, (_, i) => `p${i}`),
    syncs: 1,
  },
  {
    name: 'adds and dones of one tick: one fdatasync, replayed in order',
    ops: (j) => Promise.all([j.add([c('a'), c('b')]), j.done(['a']), j.add([c('c')]), j.done(['b']), j.add([c('a')])]),
    want: ['c', 'a'],
    syncs: 1,
  },
  {
    name: 'adds while a sync is in flight join the next one',
    ops: async (j) => {
      const first = j.add([c('a')]);
      await tick(); // the first group is now being written; its completion cannot run before we yield
      const rest = [j.add([c('b')]), j.add([c('c')]), j.done(['a']), j.add([c('d')])];
      return Promise.all([first, ...rest]);
    },
    want: ['b', 'c', 'd'],
    syncs: 2,
  },
  {
    name: 'durable() waits for everything queued, in flight or not',
    ops: async (j) => {
      void j.add([c('a')]);
      await tick();
      void j.add([c('b')]);
      await j.durable();
    },
    want: ['a', 'b'],
    syncs: 2,
  },
  {
    name: 'nothing to record: no write, no fdatasync',
    ops: (j) => Promise.all([j.add([]), j.done(['never-added'])]),
    want: [],
    syncs: 0,
  },
];

for (const r of groupRows) {
  test(`journal group commit: ${r.name}`, async () => {
    const f = tmp();
    const j = new Journal(f);
    try {
      await r.ops(j);
      assert.deepEqual(crashView(f), r.want, 'what a restart after a crash would replay');
      assert.equal(j.syncs, r.syncs);
    } finally {
      await j.close();
    }
  });
}

test('journal group commit: queued lines are not on disk until their promise resolves', async () => {
  const f = tmp();
  const j = new Journal(f);
  const p = j.add([c('a')]);
  assert.deepEqual(crashView(f), [], 'still in this tick: not written yet, so not yet handled');
  await p;
  assert.deepEqual(crashView(f), ['a']);
  await j.close();
});

test('journal group commit: close() with a group in flight writes everything, then later adds throw', async () => {
  const f = tmp();
  const j = new Journal(f);
  void j.add([c('a')]);
  await tick(); // 'a' in flight
  void j.add([c('b')]);
  await j.close();
  assert.deepEqual(crashView(f), ['a', 'b']);
  assert.throws(() => j.add([c('c')]), /closed/);
});

test('journal group commit: compaction asked for while a group is in flight waits for it', async () => {
  const f = tmp();
  const j = new Journal(f);
  for (let i = 0; i < 100; i++) void j.add([c(`p${i}`)]);
  await tick(); // the 100 adds are in flight
  void j.done(Array.from({ length: 95 }, (_, i) => `p${i}`));
  j.compact(); // must not swap the file under the write in flight
  await j.durable();
  assert.deepEqual(crashView(f), ['p95', 'p96', 'p97', 'p98', 'p99']);
  assert.equal(readFileSync(f, 'utf8').trim().split('\n').length, 5, 'compacted once the group landed');
  void j.add([c('q')]);
  await j.close();
  assert.deepEqual(crashView(f), ['p95', 'p96', 'p97', 'p98', 'p99', 'q']);
});
