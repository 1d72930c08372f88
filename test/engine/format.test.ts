// fmtBytes and fmtCount: sizes, rates and counts for log lines and status output, table by table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtBytes, fmtCount } from '../../src/engine/format.js';

const cases: [number, string][] = [
  [0, '0 B'],
  [1023, '1023 B'],
  [7.648183556405353, '8 B'], // a rate (bytes / seconds) is fractional: whole bytes are shown
  [1024, '1.0 KiB'],
  [1536, '1.5 KiB'],
  [48.8 * 1024 * 1024, '48.8 MiB'],
  [3 * 1024 ** 4, '3.0 TiB'],
];

for (const [n, want] of cases) test(`fmtBytes(${n}) = ${want}`, () => assert.equal(fmtBytes(n), want));

// fmtCount: counts with thousands separators, as toLocaleString('en-US') writes them
const counts: [number, string][] = [
  [0, '0'],
  [7, '7'],
  [999, '999'],
  [1000, '1,000'],
  [12345, '12,345'],
  [100110, '100,110'],
  [1234567, '1,234,567'],
  [1.5, '1.5'], // not a whole count: toLocaleString's answer
  [-1234, '-1,234'],
];

for (const [n, want] of counts) {
  test(`fmtCount(${n}) = ${want}`, () => {
    assert.equal(fmtCount(n), want);
    assert.equal(fmtCount(n), n.toLocaleString('en-US'));
  });
}
