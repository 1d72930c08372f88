// FindOutput (transport/local-walk.ts): find's -printf output parsed from bytes, fed in chunks cut
// anywhere; what a finished run means (findOutcome); and findWalk on a real tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, utimesSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Entry } from '../../src/core/types.js';
import { FindOutput, findOutcome, findWalk } from '../../src/transport/local-walk.js';

/** one entry as find prints it with '%y %d %s %T@ %m\0%P\0%l\0' (head: "%y %s %T@ %m"; the depth from the path) */
const rec = (head: string, path: string, target = '') => Buffer.from(`${head[0]} ${path.split('/').length} ${head.slice(2)}\0${path}\0${target}\0`);

const cases: { name: string; out: Buffer; want: [string, Entry][] }[] = [
  { name: 'a file', out: rec('f 5120 1600000000.0000000000 644', 'd0/f.bin'), want: [['d0/f.bin', { type: 'file', size: 5120, mtime: 1600000000, mode: 0o644 }]] },
  { name: 'a fraction is rounded down', out: rec('f 0 1600000000.9999999990 600', 'a'), want: [['a', { type: 'file', size: 0, mtime: 1600000000, mode: 0o600 }]] },
  { name: 'a directory', out: rec('d 4096 1700000001.5 755', 'd0'), want: [['d0', { type: 'dir', size: 4096, mtime: 1700000001, mode: 0o755 }]] },
  { name: 'a symlink keeps its target', out: rec('l 5 1600000000.0 777', 'ln', '../x y'), want: [['ln', { type: 'symlink', size: 5, mtime: 1600000000, mode: 0o777, target: '../x y' }]] },
  { name: 'an empty symlink target', out: rec('l 0 1600000000.0 777', 'ln'), want: [['ln', { type: 'symlink', size: 0, mtime: 1600000000, mode: 0o777, target: '' }]] },
  { name: 'a FIFO is other', out: rec('p 0 1600000000.0 644', 'fifo'), want: [['fifo', { type: 'other', size: 0, mtime: 1600000000, mode: 0o644 }]] },
  { name: 'setuid is dropped, sticky kept', out: Buffer.concat([rec('f 1 1 4755', 's'), rec('d 1 1 1777', 't')]), want: [['s', { type: 'file', size: 1, mtime: 1, mode: 0o755 }], ['t', { type: 'dir', size: 1, mtime: 1, mode: 0o1777 }]] },
  { name: 'before 1970 rounds down too', out: Buffer.concat([rec('f 1 -1.5000000000 644', 'a'), rec('f 1 -2.0000000000 644', 'b')]), want: [['a', { type: 'file', size: 1, mtime: -2, mode: 0o644 }], ['b', { type: 'file', size: 1, mtime: -2, mode: 0o644 }]] },
  { name: 'a size beyond 32 bits', out: rec('f 17179869184 1600000000.0 644', 'big'), want: [['big', { type: 'file', size: 17179869184, mtime: 1600000000, mode: 0o644 }]] },
  { name: 'names with spaces, newlines and UTF-8', out: rec('f 3 1600000000.0 644', 'a b/ç\nd é.txt'), want: [['a b/ç\nd é.txt', { type: 'file', size: 3, mtime: 1600000000, mode: 0o644 }]] },
  {
    name: 'several entries',
    out: Buffer.concat([rec('d 4096 1600000000.0 755', 'd'), rec('f 1 1600000001.0 644', 'd/a'), rec('l 1 1600000002.0 777', 'd/l', 'a')]),
    want: [
      ['d', { type: 'dir', size: 4096, mtime: 1600000000, mode: 0o755 }],
      ['d/a', { type: 'file', size: 1, mtime: 1600000001, mode: 0o644 }],
      ['d/l', { type: 'symlink', size: 1, mtime: 1600000002, mode: 0o777, target: 'a' }],
    ],
  },
];

for (const c of cases) {
  test(`FindOutput: ${c.name}, whole and cut at every byte`, () => {
    const parse = (chunks: Buffer[]) => {
      const got: [string, Entry][] = [];
      const p = new FindOutput((rel, e, depth) => {
        assert.equal(depth, rel.split('/').length);
        got.push([rel, e]);
      });
      for (const ch of chunks) p.push(ch);
      p.end();
      assert.equal(p.count, got.length);
      return got;
    };
    assert.deepEqual(parse([c.out]), c.want);
    for (let cut = 1; cut < c.out.length; cut++) assert.deepEqual(parse([c.out.subarray(0, cut), c.out.subarray(cut)]), c.want, `cut at ${cut}`);
    assert.deepEqual(parse([...c.out].map((b) => Buffer.from([b]))), c.want, 'one byte at a time');
  });
}

test('FindOutput: output that stops inside an entry is an error', () => {
  const p = new FindOutput(() => {});
  p.push(Buffer.from('f 1 1 1.0 644\0a\0'));
  assert.throws(() => p.end(), /middle of an entry/);
});

test('findWalk: a real tree, pre-order, .chain pruned, symlinks not followed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chain-walk-'));
  try {
    mkdirSync(join(dir, 'd/e'), { recursive: true });
    mkdirSync(join(dir, '.chain/tmp'), { recursive: true });
    writeFileSync(join(dir, '.chain/tmp/x'), 'x');
    writeFileSync(join(dir, 'd/e/f.txt'), 'hello');
    chmodSync(join(dir, 'd/e/f.txt'), 0o640);
    utimesSync(join(dir, 'd/e/f.txt'), 1_600_000_000.7, 1_600_000_000.7);
    symlinkSync('e', join(dir, 'd/link'));
    const got = new Map<string, Entry>();
    const order: string[] = [];
    assert.equal(await findWalk(dir, (rel, e) => (got.set(rel, e), order.push(rel))), true);
    assert.deepEqual([...got.keys()].sort(), ['d', 'd/e', 'd/e/f.txt', 'd/link']);
    assert.deepEqual(got.get('d/e/f.txt'), { type: 'file', size: 5, mtime: 1_600_000_000, mode: 0o640 });
    assert.equal(got.get('d/link')?.type, 'symlink');
    assert.equal(got.get('d/link')?.target, 'e');
    assert.ok(order.indexOf('d') < order.indexOf('d/e') && order.indexOf('d/e') < order.indexOf('d/e/f.txt'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('findWalk: a callback that throws stops the walk and rejects with its error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chain-walk-'));
  try {
    for (let i = 0; i < 50; i++) writeFileSync(join(dir, `f${i}`), '');
    let seen = 0;
    const stop = new Error('stop here');
    await assert.rejects(
      findWalk(dir, () => {
        if (++seen === 3) throw stop;
      }),
      (err) => err === stop,
    );
    assert.equal(seen, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// findOutcome: what a finished find run means, by exit status, stderr and entries listed
const outcomes: { name: string; code: number | null; stderr: string; entries: number; want: boolean | 'EIO' | 'EACCES' }[] = [
  { name: 'status 0', code: 0, stderr: '', entries: 3, want: true },
  { name: 'status 0, an empty tree', code: 0, stderr: '', entries: 0, want: true },
  { name: 'entries that vanished meanwhile', code: 1, stderr: "find: '/r/a/x': No such file or directory\n", entries: 3, want: true },
  { name: 'the root itself gone, nothing listed', code: 1, stderr: "find: '/r/': No such file or directory\n", entries: 0, want: 'EIO' },
  { name: 'a directory it could not read', code: 1, stderr: "find: '/r/a': Permission denied\n", entries: 3, want: 'EACCES' },
  { name: 'no -printf (busybox)', code: 1, stderr: 'find: unrecognized: -printf\n', entries: 0, want: false },
  { name: 'killed (no exit status)', code: null, stderr: '', entries: 3, want: 'EIO' },
];
for (const c of outcomes) {
  test(`findOutcome: ${c.name}`, () => {
    const out = new FindOutput(() => {});
    out.count = c.entries;
    if (typeof c.want === 'boolean') assert.equal(findOutcome('/r', c.code, c.stderr, out), c.want);
    else assert.throws(() => findOutcome('/r', c.code, c.stderr, out), (err: NodeJS.ErrnoException) => err.code === c.want);
  });
}

test('findWalk: a root that is not there is an error, not an empty tree', async () => {
  await assert.rejects(findWalk(join(tmpdir(), `chain-no-such-${process.pid}`), () => {}), (err: NodeJS.ErrnoException) => err.code === 'EIO');
});
