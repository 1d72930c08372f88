// The trash on a target (local-fs Remote): what a push replaces or removes is kept under
// <root>/.chain/trash/<day>/<path>; pruning removes whole days past the retention.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, symlinkSync, utimesSync, statSync, existsSync, readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { LocalRemote } from '../../src/transport/local.js';
import { pushBatch } from '../../src/engine/push.js';
import { LinkMemory } from '../../src/engine/memory.js';
import { keepAside, pruneTrash } from '../../src/engine/trash.js';
import { compileExclude } from '../../src/core/exclude.js';
import { silentLogger } from '../../src/core/log.js';
import { trashDay } from '../../src/core/trash.js';
import type { PendingChange } from '../../src/core/types.js';

let dir: string;
let a: string;
let b: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'chain-trash-'));
  a = join(dir, 'a');
  b = join(dir, 'b');
  mkdirSync(a);
  mkdirSync(b);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ctx = (o: { trash?: boolean; memory?: LinkMemory; target?: LocalRemote; deleteEnabled?: boolean } = {}) => ({
  source: new LocalRemote(a, 'a'),
  target: o.target ?? new LocalRemote(b, 'b'),
  exclude: compileExclude([]),
  deleteEnabled: o.deleteEnabled ?? true,
  memory: o.memory ?? new LinkMemory(),
  log: silentLogger,
  trash: o.trash ?? true,
});
const ch = (path: string, kind: PendingChange['kind'] = 'change'): PendingChange => ({ path, kind, since: Date.now(), at: Date.now() });
const write = (root: string, rel: string, text: string, mtime: number) => {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), text);
  utimesSync(join(root, rel), mtime, mtime);
};
/** the trash path of rel on b, today (either side of a midnight during the test) */
const trashed = (rel: string) => [trashDay(Date.now()), trashDay(Date.now() - 60_000)].map((d) => join(b, '.chain/trash', d, rel)).find((p) => existsSync(p)) ?? '(not in the trash)';

test('an overwrite keeps the old version in the trash (the same file, hard-linked) and the new one at the path', async () => {
  write(a, 'd/f.txt', 'old', 1000);
  const m = new LinkMemory();
  await pushBatch(ctx({ memory: m }), [ch('d/f.txt')]);
  const ino = statSync(join(b, 'd/f.txt')).ino;
  write(a, 'd/f.txt', 'new!', 2000);
  const r = await pushBatch(ctx({ memory: m }), [ch('d/f.txt')]);
  assert.deepEqual(r.failed, []);
  assert.equal(readFileSync(join(b, 'd/f.txt'), 'utf8'), 'new!');
  assert.equal(readFileSync(trashed('d/f.txt'), 'utf8'), 'old');
  assert.equal(statSync(trashed('d/f.txt')).ino, ino, 'kept by a hard link, not a copy');
  assert.equal(statSync(trashed('d/f.txt')).mtimeMs, 1000_000);
  assert.equal((statSync(join(b, '.chain/trash')).mode & 0o777).toString(8), '700');
  assert.ok(!r.changed.some((c) => c.path.startsWith('.chain')), 'the trash is never replicated');
});

test('a delete moves the file to the trash; a removed directory goes there whole', async () => {
  write(a, 'x.txt', 'x', 1000);
  write(a, 'dir/sub/y.txt', 'y', 1000);
  const m = new LinkMemory();
  await pushBatch(ctx({ memory: m }), [ch('x.txt'), ch('dir')]);
  assert.ok(existsSync(join(b, 'dir/sub/y.txt')));
  rmSync(join(a, 'x.txt'));
  rmSync(join(a, 'dir'), { recursive: true });
  const r = await pushBatch(ctx({ memory: m }), [ch('x.txt', 'delete'), ch('dir', 'delete')]);
  assert.equal(r.stats.removed, 2);
  assert.ok(!existsSync(join(b, 'x.txt')) && !existsSync(join(b, 'dir')));
  assert.equal(readFileSync(trashed('x.txt'), 'utf8'), 'x');
  assert.equal(readFileSync(trashed('dir/sub/y.txt'), 'utf8'), 'y');
});

test('the same path trashed twice in a day: both versions are kept', async () => {
  const m = new LinkMemory();
  for (const [i, text] of ['one', 'two', 'three'].entries()) {
    write(a, 'f', text, 1000 + i);
    await pushBatch(ctx({ memory: m }), [ch('f')]);
  }
  const days = readdirSync(join(b, '.chain/trash'));
  const kept = days.flatMap((d) => readdirSync(join(b, '.chain/trash', d)).map((n) => readFileSync(join(b, '.chain/trash', d, n), 'utf8')));
  assert.deepEqual(kept.sort(), ['one', 'two']);
  assert.equal(readFileSync(join(b, 'f'), 'utf8'), 'three');
});

test('what is in the way of another type goes to the trash too', async () => {
  write(b, 'p/inside.txt', 'was a dir', 1000);
  write(a, 'p', 'now a file', 2000);
  const r = await pushBatch(ctx(), [ch('p')]);
  assert.deepEqual(r.failed, []);
  assert.equal(readFileSync(join(b, 'p'), 'utf8'), 'now a file');
  assert.equal(readFileSync(trashed('p/inside.txt'), 'utf8'), 'was a dir');
  write(b, 'q', 'a file', 1000);
  symlinkSync('p', join(a, 'q'));
  await pushBatch(ctx(), [ch('q')]);
  assert.equal(lstatSync(join(b, 'q')).isSymbolicLink(), true);
  assert.equal(readFileSync(trashed('q'), 'utf8'), 'a file');
});

test('trash off: replaced and removed files are gone for good', async () => {
  write(a, 'f', 'old', 1000);
  const m = new LinkMemory();
  await pushBatch(ctx({ trash: false, memory: m }), [ch('f')]);
  write(a, 'f', 'new', 2000);
  await pushBatch(ctx({ trash: false, memory: m }), [ch('f')]);
  rmSync(join(a, 'f'));
  await pushBatch(ctx({ trash: false, memory: m }), [ch('f', 'delete')]);
  assert.ok(!existsSync(join(b, 'f')));
  assert.ok(!existsSync(join(b, '.chain/trash')));
});

test('delete: false removes nothing and trashes nothing', async () => {
  write(a, 'f', 'x', 1000);
  const m = new LinkMemory();
  await pushBatch(ctx({ memory: m, deleteEnabled: false }), [ch('f')]);
  rmSync(join(a, 'f'));
  const r = await pushBatch(ctx({ memory: m, deleteEnabled: false }), [ch('f', 'delete')]);
  assert.equal(r.stats.removed, 0);
  assert.equal(readFileSync(join(b, 'f'), 'utf8'), 'x');
  assert.ok(!existsSync(join(b, '.chain/trash')));
});

test('a target that cannot hard-link: the old version is renamed into the trash, then the new one put', async () => {
  const target = new LocalRemote(b, 'b');
  (target as { link?: unknown }).link = undefined;
  write(a, 'f', 'old', 1000);
  const m = new LinkMemory();
  await pushBatch(ctx({ memory: m, target }), [ch('f')]);
  write(a, 'f', 'new', 2000);
  const r = await pushBatch(ctx({ memory: m, target }), [ch('f')]);
  assert.deepEqual(r.failed, []);
  assert.equal(readFileSync(join(b, 'f'), 'utf8'), 'new');
  assert.equal(readFileSync(trashed('f'), 'utf8'), 'old');
});

test('the target changed after it was looked at: not overwritten, the path is planned again', async () => {
  write(a, 'f', 'ours', 1000);
  const m = new LinkMemory();
  await pushBatch(ctx({ memory: m }), [ch('f')]);
  write(a, 'f', 'ours, edited', 2000);
  const target = new LocalRemote(b, 'b');
  const put = target.put.bind(target);
  target.put = async (...args) => {
    write(b, 'f', 'theirs, written meanwhile', 3000); // someone on b, between our lstat and our rename
    return put(...args);
  };
  const r = await pushBatch(ctx({ memory: m, target }), [ch('f')]);
  assert.deepEqual(r.retry.map((c) => c.path), ['f']);
  assert.equal(readFileSync(join(b, 'f'), 'utf8'), 'theirs, written meanwhile');
  assert.deepEqual(readdirSync(join(b, '.chain/tmp')), [], 'the temp file is gone');
  const again = await pushBatch(ctx({ memory: m }), r.retry);
  assert.equal(again.stats.files, 0, 'planned again: theirs is newer and wins');
});

test('keepAside: the first free name; a file in the way of a directory is passed over', async () => {
  write(b, 'f', 'v', 1000);
  write(b, 'taken', 'x', 1000);
  write(b, 'blocked', 'a file where a directory would go', 1000);
  const target = new LocalRemote(b, 'b');
  assert.equal(await keepAside(target, 'f', ['taken', 'blocked/f', 'free/f'], 'link'), 'free/f');
  assert.equal(readFileSync(join(b, 'free/f'), 'utf8'), 'v');
  assert.equal(readFileSync(join(b, 'f'), 'utf8'), 'v', 'a link leaves the path in place');
  assert.equal(await keepAside(target, 'f', ['taken'], 'move'), null, 'no free name: nothing done');
  assert.equal(await keepAside(target, 'f', ['moved'], 'move'), 'moved');
  assert.ok(!existsSync(join(b, 'f')));
});

const DAY = 86_400_000;
test('pruneTrash removes whole days past the retention, and nothing else', async () => {
  const now = Date.UTC(2024, 5, 10, 12);
  for (const d of ['2024-06-01', '2024-06-02', '2024-06-03', '2024-06-10', 'notes']) write(b, `.chain/trash/${d}/x/y`, d, 1000);
  const gone = await pruneTrash(b, 7 * DAY, now);
  assert.deepEqual(gone.sort(), ['2024-06-01', '2024-06-02']);
  assert.deepEqual(readdirSync(join(b, '.chain/trash')).sort(), ['2024-06-03', '2024-06-10', 'notes']);
  assert.deepEqual(await pruneTrash(join(dir, 'no-such-root'), DAY, now), []);
});

test('pruneTrash never follows a symlinked .chain/trash out of the root', async () => {
  const elsewhere = join(dir, 'elsewhere');
  write(elsewhere, '2000-01-01/precious', 'keep me', 1000);
  mkdirSync(join(b, '.chain'));
  symlinkSync(elsewhere, join(b, '.chain/trash'));
  assert.deepEqual(await pruneTrash(b, DAY, Date.now()), []);
  assert.equal(readFileSync(join(elsewhere, '2000-01-01/precious'), 'utf8'), 'keep me');
});

test('a trash that cannot be made (.chain is a file there): the push goes on without it', async () => {
  write(a, 'f', 'old', 1000);
  const m = new LinkMemory();
  await pushBatch(ctx({ memory: m }), [ch('f')]);
  rmSync(join(b, '.chain'), { recursive: true, force: true });
  writeFileSync(join(b, '.chain'), 'not a directory');
  write(a, 'f', 'new', 2000);
  const r = await pushBatch(ctx({ memory: m }), [ch('f')]);
  assert.deepEqual(r.failed, []);
  assert.equal(readFileSync(join(b, 'f'), 'utf8'), 'new');
});
