// LinkMemory: bounded, and durable across restarts (what lets a `cp -p` of a backup win after one).
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { LinkMemory } from '../../src/engine/memory.js';
import type { Entry } from '../../src/core/types.js';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'chain-memory-'));
  file = join(dir, 'state', 'memory', 'host2.jsonl');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const f = (mtime: number, size = 1): Entry => ({ type: 'file', size, mtime, mode: 0o644 });
const link: Entry = { type: 'symlink', size: 1, mtime: 5, mode: 0o777, target: 'x y\n"z"' };

test('saved and loaded: entries, links, removed paths; in the same order of forgetting', () => {
  const m = new LinkMemory({ file, cap: 3 });
  m.set('a', f(1));
  m.set('b', link);
  m.set('c', null);
  m.save();
  const back = new LinkMemory({ file, cap: 3 });
  assert.deepEqual(back.get('a'), f(1));
  assert.deepEqual(back.get('b'), link);
  assert.equal(back.get('c'), null, 'a removed path is remembered as removed');
  assert.equal(back.get('d'), undefined);
  back.set('d', f(4)); // over the cap: the oldest ("a") goes, as it would have without the restart
  assert.equal(back.get('a'), undefined);
  assert.deepEqual(back.get('b'), link);
});

test('bounded: the oldest entries are forgotten first, a set refreshes an entry', () => {
  const m = new LinkMemory(2);
  m.set('a', f(1));
  m.set('b', f(2));
  m.set('a', f(3));
  m.set('c', f(4));
  assert.equal(m.get('b'), undefined);
  assert.deepEqual(m.get('a'), f(3));
  assert.equal(m.size, 2);
});

test('removedTree forgets what was below and remembers the path as removed', () => {
  const m = new LinkMemory();
  m.set('d', { type: 'dir', size: 0, mtime: 0, mode: 0o755 });
  m.set('d/x', f(1));
  m.set('dx', f(1));
  m.removedTree('d');
  assert.equal(m.get('d'), null);
  assert.equal(m.get('d/x'), undefined);
  assert.deepEqual(m.get('dx'), f(1));
});

test('checkpoint saves when enough changed or enough time passed, and not otherwise', () => {
  const m = new LinkMemory({ file, saveEveryMs: 60_000, saveAfterChanges: 3 });
  const t0 = Date.now();
  m.set('a', f(1));
  m.checkpoint(t0 + 1000);
  assert.equal(existsSync(file), false, 'one change, a second later: not yet');
  m.set('b', f(1));
  m.set('c', f(1));
  m.checkpoint(t0 + 1000);
  assert.equal(existsSync(file), true, 'three changes: saved (a large batch)');
  const size = readFileSync(file, 'utf8').length;
  m.set('d', f(1));
  m.checkpoint(t0 + 2000);
  assert.equal(readFileSync(file, 'utf8').length, size, 'one more change: not yet');
  m.checkpoint(t0 + 2000 + 60_000);
  assert.ok(readFileSync(file, 'utf8').includes('"d"'), 'a minute later: saved');
  assert.deepEqual(readdirSync(join(dir, 'state', 'memory')), ['host2.jsonl'], 'no temp file left');
});

test('a torn or foreign file is read as far as it makes sense, never fatal', () => {
  const m = new LinkMemory({ file });
  m.set('a', f(1));
  m.set('b', f(2));
  m.save();
  writeFileSync(file, readFileSync(file, 'utf8') + '["c", ["f", 1, 2');
  const back = new LinkMemory({ file });
  assert.deepEqual(back.get('b'), f(2));
  assert.equal(back.get('c'), undefined);
  writeFileSync(file, 'something else\n["a",["f",1,1,420]]\n');
  assert.equal(new LinkMemory({ file }).size, 0, 'an unknown format starts empty');
});

test('without a file nothing is written', () => {
  const m = new LinkMemory();
  m.set('a', f(1));
  m.save();
  m.checkpoint(Date.now() + 3_600_000);
  assert.equal(existsSync(join(dir, 'state')), false);
});
