import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairMoves, type MoveCandidate } from '../../src/core/moves.js';
import type { Entry } from '../../src/core/types.js';

const f = (size: number, mtime = 100): Entry => ({ type: 'file', size, mtime, mode: 0o644 });
const c = (path: string, entry: Entry): MoveCandidate => ({ path, entry });

const rows: { name: string; gone: MoveCandidate[]; born: MoveCandidate[]; want: [string, string][] }[] = [
  { name: 'one move', gone: [c('a/x.jpg', f(5))], born: [c('b/y.jpg', f(5))], want: [['a/x.jpg', 'b/y.jpg']] },
  { name: 'sizes differ: no move', gone: [c('x', f(5))], born: [c('y', f(6))], want: [] },
  { name: 'mtimes differ: no move', gone: [c('x', f(5, 1))], born: [c('y', f(5, 2))], want: [] },
  { name: 'empty files are never paired', gone: [c('x', f(0))], born: [c('y', f(0))], want: [] },
  { name: 'ambiguous, same basenames decide', gone: [c('a/1', f(5)), c('a/2', f(5))], born: [c('b/2', f(5)), c('b/1', f(5))], want: [['a/1', 'b/1'], ['a/2', 'b/2']] },
  { name: 'ambiguous, different basenames: copy instead', gone: [c('a/1', f(5)), c('a/2', f(5))], born: [c('b/3', f(5)), c('b/4', f(5))], want: [] },
  { name: 'dirs are not paired here', gone: [c('d', { type: 'dir', size: 0, mtime: 1, mode: 0o755 })], born: [c('e', { type: 'dir', size: 0, mtime: 1, mode: 0o755 })], want: [] },
];

for (const r of rows) {
  test(`moves: ${r.name}`, () => {
    const got = pairMoves(r.gone, r.born).map((m) => [m.from, m.to]);
    assert.deepEqual(got.sort(), r.want.sort());
  });
}
