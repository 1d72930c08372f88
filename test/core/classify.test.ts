import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify } from '../../src/core/classify.js';

const rows: { name: string; err: unknown; want: string }[] = [
  { name: 'explicit verdict wins', err: { verdict: 'path', kind: 'x', retryable: true }, want: 'path' },
  { name: 'ssh auth refused is die', err: { kind: 'auth', retryable: false }, want: 'die' },
  { name: 'ssh timeout is again', err: { kind: 'timeout', retryable: true }, want: 'again' },
  { name: 'connection refused', err: { code: 'ECONNREFUSED' }, want: 'again' },
  { name: 'connection reset', err: { code: 'ECONNRESET' }, want: 'again' },
  { name: 'sftp permission denied is one path', err: { code: 3 }, want: 'path' },
  { name: 'sftp connection lost', err: { code: 7 }, want: 'again' },
  { name: 'local EACCES is one path', err: { code: 'EACCES' }, want: 'path' },
  { name: 'disk full is one path (retried later)', err: { code: 'ENOSPC' }, want: 'path' },
  { name: 'ssh2 "No response from server"', err: new Error('No response from server'), want: 'again' },
  { name: 'source changed', err: Object.assign(new Error('x'), { name: 'SourceChangedError' }), want: 'path' },
  { name: 'not an object', err: 'boom', want: 'again' },
];

for (const r of rows) test(`classify: ${r.name}`, () => assert.equal(classify(r.err), r.want));
