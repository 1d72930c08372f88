// fmtBytes: sizes and rates for log lines and status output, table by table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtBytes } from '../../src/engine/format.js';

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
