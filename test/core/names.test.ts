// isReserved: the paths chain never replicates (.chain/ and beside-target temp names), table by table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isReserved, tempName } from '../../src/core/names.js';

const cases: [string, boolean][] = [
  ['.chain', true],
  ['.chain/tmp/x', true],
  ['.chain/trash/2026-01-01/a.jpg', true],
  ['.chain-tmp-abc', true],
  ['a/b/.chain-tmp-abc', true],
  ['a/.chain-tmp-', true],
  ['.chainx', false],
  ['a/.chain', false], // only the root's .chain is chain's
  ['a/x.chain-tmp-abc', false],
  ['.chain-tmp-abc/file', false], // a directory of that name holds ordinary files
  ['a/b/c.jpg', false],
  ['c.jpg', false],
  ['', false],
];

for (const [path, want] of cases) test(`isReserved(${JSON.stringify(path)}) = ${want}`, () => assert.equal(isReserved(path), want));

test('a temp name is reserved wherever it is', () => {
  assert.equal(isReserved(tempName()), true);
  assert.equal(isReserved(`d/e/${tempName()}`), true);
});
