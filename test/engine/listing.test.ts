// listHost over a Remote that walks its whole tree in one pass (find's pre-order, with depths):
// rows under the right parents, each directory reported complete once with what is in it, excluded
// directories skipped with everything under them; fed by hand, case by case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Listings } from '../../src/core/listings.js';
import { listHost } from '../../src/engine/listing.js';
import { compileExclude } from '../../src/core/exclude.js';
import type { Remote } from '../../src/transport/remote.js';
import type { Entry } from '../../src/core/types.js';

const F: Entry = { type: 'file', size: 1, mtime: 1, mode: 0o644 };
const D: Entry = { type: 'dir', size: 0, mtime: 1, mode: 0o755 };

/** a Remote whose walk reports these paths (a trailing / marks a directory), depth from the path */
function walker(paths: string[]): Remote {
  return {
    name: 'h',
    lstat: async () => D,
    walk: async (onEntry: (rel: string, e: Entry, depth: number) => void) => {
      for (const p of paths) {
        const rel = p.replace(/\/$/, '');
        onEntry(rel, p.endsWith('/') ? D : F, rel.split('/').length);
      }
      return true;
    },
  } as unknown as Remote;
}

const cases: { name: string; walk: string[]; exclude?: string[]; rows: string[]; dirs: string[] }[] = [
  { name: 'an empty root', walk: [], rows: [], dirs: ['/: '] },
  { name: 'flat', walk: ['a', 'b'], rows: ['a', 'b'], dirs: ['/: a b'] },
  {
    name: 'nested, directories closed as the walk leaves them',
    walk: ['d/', 'd/e/', 'd/e/f', 'd/g', 'h/', 'h/i', 'j'],
    rows: ['d', 'd/e', 'd/e/f', 'd/g', 'h', 'h/i', 'j'],
    dirs: ['d/e: d/e/f', 'd: d/e d/g', 'h: h/i', '/: d h j'],
  },
  { name: 'a deep directory closed at once', walk: ['a/', 'a/b/', 'a/b/c/', 'a/b/c/x', 'y'], rows: ['a', 'a/b', 'a/b/c', 'a/b/c/x', 'y'], dirs: ['a/b/c: a/b/c/x', 'a/b: a/b/c', 'a: a/b', '/: a y'] },
  {
    name: 'an excluded directory is skipped with everything under it',
    walk: ['cache/', 'cache/x/', 'cache/x/y', 'cache/z', 'keep/', 'keep/cache.tmp', 'keep/a'],
    exclude: ['/cache', '*.tmp'],
    rows: ['keep', 'keep/a'],
    dirs: ['keep: keep/a', '/: keep'],
  },
  { name: 'chain temp names are never listed', walk: ['.chain-tmp-x', 'd/', 'd/.chain-tmp-y', 'd/a'], rows: ['d', 'd/a'], dirs: ['d: d/a', '/: d'] },
];

for (const c of cases) {
  test(`walked listing: ${c.name}`, async () => {
    const l = new Listings(['h']);
    const dirs: string[] = [];
    const name = (r: number) => (r === -1 ? '/' : l.path(r));
    await listHost(walker(c.walk), l, 0, { exclude: compileExclude(c.exclude ?? []), onDir: (row, kids) => dirs.push(`${name(row)}: ${kids.map(name).join(' ')}`) });
    assert.deepEqual(Array.from({ length: l.rows }, (_, r) => l.path(r)), c.rows);
    for (let r = 0; r < l.rows; r++) {
      const p = l.path(r);
      assert.equal(name(l.parent(r)), p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '/', `parent of ${p}`);
    }
    assert.deepEqual(dirs, c.dirs);
  });
}

test('walked listing: an entry deeper than any open directory is an error, not a guess', async () => {
  const bad = {
    name: 'h',
    lstat: async () => D,
    walk: async (onEntry: (rel: string, e: Entry, depth: number) => void) => (onEntry('a/b', F, 2), true),
  } as unknown as Remote;
  await assert.rejects(listHost(bad, new Listings(['h']), 0, { exclude: compileExclude([]) }), /out of order/);
});
