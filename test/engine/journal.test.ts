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
