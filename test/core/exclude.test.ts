import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileExclude } from '../../src/core/exclude.js';

const rows: { patterns: string[]; path: string; excluded: boolean }[] = [
  { patterns: ['*.tmp'], path: 'x.tmp', excluded: true },
  { patterns: ['*.tmp'], path: 'a/b/c.tmp', excluded: true },
  { patterns: ['*.tmp'], path: 'a/b/c.jpg', excluded: false },
  { patterns: ['cache/**'], path: 'cache', excluded: true },
  { patterns: ['cache/**'], path: 'cache/a/b', excluded: true },
  { patterns: ['cache/**'], path: 'x/cache/a', excluded: false },
  { patterns: ['cache'], path: 'x/cache/a', excluded: true },
  { patterns: ['/thumbs/*.png'], path: 'thumbs/a.png', excluded: true },
  { patterns: ['thumbs/*.png'], path: 'thumbs/sub/a.png', excluded: false },
  { patterns: ['/cache'], path: 'cache/x', excluded: true },
  { patterns: ['/cache'], path: 'a/cache/x', excluded: false },
  { patterns: ['.*.swp'], path: 'd/.x.swp', excluded: true },
  { patterns: [], path: '.chain', excluded: true },
  { patterns: [], path: '.chain/tmp/x', excluded: true },
  { patterns: [], path: 'a/.chain-tmp-1-abc', excluded: true },
  { patterns: [], path: 'a/.chainrc', excluded: false },
  { patterns: [], path: 'photo.jpg', excluded: false },
];

for (const r of rows) {
  test(`exclude ${JSON.stringify(r.patterns)} ${r.path} → ${r.excluded}`, () => {
    assert.equal(compileExclude(r.patterns)(r.path), r.excluded);
  });
}
