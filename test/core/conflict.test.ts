// Who wins a conflict, what the loser is called, and where the trash puts things: tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conflictAlternatives, conflictName, decideFile, isConflictName, splitName, stamp, type FileVerdict } from '../../src/core/conflict.js';
import { expiredDays, trashCandidates, trashDay } from '../../src/core/trash.js';
import { packEntry, unpackEntry } from '../../src/core/entry.js';
import type { Entry } from '../../src/core/types.js';

const file = (mtime: number, size = 10, mode = 0o644): Entry => ({ type: 'file', size, mtime, mode });

const decisions: { name: string; local: Entry; remote: Entry; last?: Entry | null; want: Partial<FileVerdict> }[] = [
  { name: 'target still holds what we last pushed: ours, even older-dated', local: file(10), remote: file(100), last: file(100), want: { winner: 'local', conflict: false } },
  { name: 'both changed, ours newer', local: file(300), remote: file(200), last: file(100), want: { winner: 'local', conflict: true } },
  { name: 'both changed, theirs newer', local: file(200), remote: file(300), last: file(100), want: { winner: 'remote', reason: 'remote-newer' } },
  { name: 'same second: larger wins', local: file(200, 11), remote: file(200, 10), last: file(100), want: { winner: 'local', conflict: true } },
  { name: 'same second and size: higher mode wins', local: file(200, 10, 0o600), remote: file(200, 10, 0o644), last: file(100), want: { winner: 'remote' } },
  { name: 'no memory: newer wins, conflict unknown', local: file(300), remote: file(200), last: undefined, want: { winner: 'local', conflict: 'unknown' } },
  { name: 'only the target changed: decided by version (the ring needs one order)', local: file(100), remote: file(90), last: file(100), want: { winner: 'local', conflict: true } },
  { name: 'a remembered non-file is no memory of a file', local: file(300), remote: file(200), last: { type: 'dir', size: 0, mtime: 0, mode: 0o755 }, want: { winner: 'local', conflict: 'unknown' } },
];
for (const d of decisions) {
  test(`decideFile: ${d.name}`, () => {
    const v = decideFile(d.local, d.remote, d.last);
    for (const [k, want] of Object.entries(d.want)) assert.equal(v[k as keyof FileVerdict], want, k);
  });
}

test('decideFile is the same on both sides of a conflict: exactly one version wins', () => {
  const versions = [file(100, 1), file(100, 2), file(101, 1), file(100, 1, 0o600), file(99, 50)];
  for (const a of versions)
    for (const b of versions) {
      if (a === b) continue;
      const ab = decideFile(a, b, file(1)).winner;
      const ba = decideFile(b, a, file(1)).winner;
      assert.notEqual(ab, ba, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
});

const T = Date.UTC(2024, 0, 2, 3, 4, 5) / 1000;
const names: { name: string; path: string; n?: number; want: string }[] = [
  { name: 'extension kept', path: 'photo.jpg', want: 'photo.chain-conflict-apollo-20240102-030405.jpg' },
  { name: 'in a directory', path: 'a/b/photo.jpg', want: 'a/b/photo.chain-conflict-apollo-20240102-030405.jpg' },
  { name: 'dotfile: the leading dot is no extension', path: '.bashrc', want: '.bashrc.chain-conflict-apollo-20240102-030405' },
  { name: 'dotfile with an extension', path: '.config.json', want: '.config.chain-conflict-apollo-20240102-030405.json' },
  { name: 'no extension', path: 'README', want: 'README.chain-conflict-apollo-20240102-030405' },
  { name: 'two extensions: the last is kept', path: 'archive.tar.gz', want: 'archive.tar.chain-conflict-apollo-20240102-030405.gz' },
  { name: 'a dot in the directory only', path: 'dir.d/file', want: 'dir.d/file.chain-conflict-apollo-20240102-030405' },
  { name: 'a trailing dot is no extension', path: 'odd.', want: 'odd..chain-conflict-apollo-20240102-030405' },
  { name: 'taken: numbered', path: 'photo.jpg', n: 2, want: 'photo.chain-conflict-apollo-20240102-030405-2.jpg' },
  { name: 'non-ASCII kept', path: 'café 写真.png', want: 'café 写真.chain-conflict-apollo-20240102-030405.png' },
];
for (const r of names) {
  test(`conflictName: ${r.name}`, () => {
    const got = conflictName(r.path, 'apollo', T, r.n);
    assert.equal(got, r.want);
    assert.ok(isConflictName(got));
  });
}

test('conflictName: a long name is shortened to fit 255 bytes, keeping the tag and the extension', () => {
  const long = 'é'.repeat(125) + '.jpg'; // 254 bytes
  const got = conflictName(`d/${long}`, 'apollo', T);
  const base = got.slice(2);
  assert.ok(Buffer.byteLength(base) <= 255, `${Buffer.byteLength(base)} bytes`);
  assert.ok(base.endsWith('.chain-conflict-apollo-20240102-030405.jpg'));
  assert.ok(base.startsWith('éé'));
});

test('conflictAlternatives: the name, then numbered ones, with or without an extension', () => {
  for (const path of ['photo.jpg', 'README', '.bashrc', 'a/b.c/d.tar.gz']) {
    const alts = conflictAlternatives(conflictName(path, 'h', T), 4);
    assert.deepEqual(alts, [1, 2, 3, 4].map((n) => conflictName(path, 'h', T, n)), path);
  }
  assert.deepEqual(conflictAlternatives('not-a-conflict-name'), ['not-a-conflict-name']);
});

test('isConflictName: only names conflictName makes', () => {
  assert.equal(isConflictName('photo.jpg'), false);
  assert.equal(isConflictName('photo.chain-conflict-x.jpg'), false);
  assert.equal(isConflictName('a/photo.chain-conflict-h-20240102-030405-3.jpg'), true);
});

test('splitName and stamp', () => {
  assert.deepEqual(splitName('a/b.c'), ['a', 'b', '.c']);
  assert.deepEqual(splitName('.x'), ['', '.x', '']);
  assert.equal(stamp(0), '19700101-000000');
});

const NOW = Date.UTC(2024, 0, 9, 0, 0, 0);
test('trash: a path goes under its UTC day; then names with the time of day; then a directory of its own', () => {
  const t = Date.UTC(2024, 0, 2, 23, 59, 58, 7);
  assert.equal(trashDay(t), '2024-01-02');
  const c = trashCandidates('a/b.jpg', t);
  assert.equal(c[0], '.chain/trash/2024-01-02/a/b.jpg');
  assert.equal(c[1], '.chain/trash/2024-01-02/a/b~235958.jpg');
  assert.equal(c[2], '.chain/trash/2024-01-02/a/b~235958-2.jpg');
  assert.equal(c.at(-1), '.chain/trash/2024-01-02/~235958-007/a/b.jpg');
  assert.equal(new Set(c).size, c.length);
  assert.equal(trashCandidates('.bashrc', t)[1], '.chain/trash/2024-01-02/.bashrc~235958');
});

const expiry: { name: string; names: string[]; retentionMs: number; now: number; want: string[] }[] = [
  { name: 'a day is kept for the whole retention after its end', names: ['2024-01-01', '2024-01-02'], retentionMs: 7 * 86_400_000, now: NOW, want: ['2024-01-01'] },
  { name: 'one ms earlier nothing has expired', names: ['2024-01-01'], retentionMs: 7 * 86_400_000, now: NOW - 1, want: [] },
  { name: 'a short retention', names: ['2024-01-07', '2024-01-08'], retentionMs: 3_600_000, now: NOW + 3_600_000, want: ['2024-01-07', '2024-01-08'] },
  { name: 'names that are not days are never listed', names: ['notes', '2024-1-01', '2024-02-30', '~tmp'], retentionMs: 0, now: NOW, want: [] },
];
for (const r of expiry) {
  test(`trash expiry: ${r.name}`, () => assert.deepEqual(expiredDays(r.names, r.retentionMs, r.now), r.want));
}

test('packEntry/unpackEntry round trip, and reject garbage', () => {
  const es: (Entry | null)[] = [null, file(5), { type: 'symlink', size: 3, mtime: 1, mode: 0o777, target: 'a b' }, { type: 'dir', size: 0, mtime: 2, mode: 0o700 }];
  for (const e of es) assert.deepEqual(unpackEntry(JSON.parse(JSON.stringify(packEntry(e)))), e);
  for (const bad of [undefined, 1, 'f', ['x', 1, 2, 3], ['f', '1', 2, 3], {}]) assert.equal(unpackEntry(bad), undefined);
});
