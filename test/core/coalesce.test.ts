import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coalesce, type Pending } from '../../src/core/coalesce.js';
import type { FsEvent } from '../../src/core/types.js';

const ev = (kind: FsEvent['kind'], at: number, path = 'a'): FsEvent => ({ kind, path, at });

const cases: { name: string; events: FsEvent[]; want: Partial<Pending> | null }[] = [
  { name: 'one create', events: [ev('create', 1)], want: { kind: 'change', since: 1, at: 1, born: true } },
  { name: 'many updates are one change', events: [ev('update', 1), ev('update', 2), ev('update', 3)], want: { kind: 'change', since: 1, at: 3, born: false } },
  { name: 'create then delete is nothing', events: [ev('create', 1), ev('update', 2), ev('delete', 3)], want: null },
  { name: 'update then delete is a delete', events: [ev('update', 1), ev('delete', 2)], want: { kind: 'delete', since: 1, at: 2 } },
  { name: 'delete then create is a change (replaced)', events: [ev('delete', 1), ev('create', 2)], want: { kind: 'change', since: 1, at: 2, born: false } },
  { name: 'delete, create, delete is a delete', events: [ev('delete', 1), ev('create', 2), ev('delete', 3)], want: { kind: 'delete', since: 1, at: 3 } },
  { name: 'delete alone keeps its time', events: [ev('delete', 7)], want: { kind: 'delete', since: 7, at: 7, born: false } },
];

for (const c of cases) {
  test(`coalesce: ${c.name}`, () => {
    const m = coalesce(new Map(), c.events);
    const got = m.get('a') ?? null;
    if (c.want === null) assert.equal(got, null);
    else assert.deepEqual({ ...got, ...c.want }, got);
  });
}

test('coalesce: create then delete of a path known elsewhere (it arrived here) is a delete', () => {
  const known = (p: string) => p === 'a';
  const m = coalesce(new Map(), [ev('create', 1), ev('delete', 2), ev('create', 3, 'b'), ev('delete', 4, 'b')], known);
  assert.deepEqual(m.get('a') && { kind: m.get('a')!.kind, at: m.get('a')!.at }, { kind: 'delete', at: 2 });
  assert.equal(m.get('b'), undefined, 'a path only ever made here still cancels out');
});

test('coalesce keeps paths apart', () => {
  const m = coalesce(new Map(), [ev('create', 1, 'x'), ev('delete', 2, 'y'), ev('update', 3, 'x')]);
  assert.deepEqual([...m.keys()].sort(), ['x', 'y']);
  assert.equal(m.get('x')!.at, 3);
});
