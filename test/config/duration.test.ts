import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../../src/config/duration.js';
import { ConfigError } from '../../src/core/errors.js';

const good: [string | number, number][] = [
  ['500ms', 500],
  ['1s', 1000],
  ['1.5s', 1500],
  ['.5s', 500],
  ['2m', 120_000],
  ['1h', 3_600_000],
  ['7d', 604_800_000],
  ['1h30m', 5_400_000],
  ['1m 30s', 90_000],
  ['1s500ms', 1500],
  [' 10s ', 10_000],
  ['10 s', 10_000],
  ['0s', 0],
  [2, 2000],
  [0.25, 250],
  ['2', 2000],
  ['1.0005s', 1001],
];

for (const [input, ms] of good) {
  test(`parseDuration(${JSON.stringify(input)}) = ${ms}`, () => assert.equal(parseDuration(input), ms));
}

// '1s1m' and '1s1s': units must come largest first, once each, which catches typos like "1s1s".
const bad: (string | number)[] = ['', 's', '5x', '-1s', '1 h 30', '1s1m', '1s1s', '5 seconds', '1S', 'ms', -1, Infinity, NaN, '1e3s'];

for (const input of bad) {
  const shown = typeof input === 'string' ? JSON.stringify(input) : String(input);
  test(`parseDuration(${shown}) is refused, listing the accepted forms`, () => {
    assert.throws(
      () => parseDuration(input),
      (e: unknown) => e instanceof ConfigError && e.exitCode === 2 && /500ms, 1s, 1\.5s, 2m, 1h, 7d/.test(e.message) && e.message.includes(`bad duration ${shown}:`),
    );
  });
}

const formatted: [number, string][] = [
  [0, '0ms'],
  [500, '500ms'],
  [1000, '1s'],
  [1500, '1.5s'],
  [60_000, '1m'],
  [90_000, '1m30s'],
  [3_600_000, '1h'],
  [5_400_000, '1h30m'],
  [604_800_000, '7d'],
  [61_500, '1m1s500ms'],
];

for (const [ms, text] of formatted) {
  test(`formatDuration(${ms}) = ${text}, and reads back`, () => {
    assert.equal(formatDuration(ms), text);
    assert.equal(parseDuration(text), ms);
  });
}
