// The push engine over the local-filesystem Remote: what a batch does to a target, table by table.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, renameSync, symlinkSync, chmodSync, utimesSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { LocalRemote } from '../../src/transport/local.js';
import { pushBatch, Applier, skipBack } from '../../src/engine/push.js';
import { drainInbox, sendManifest } from '../../src/engine/inbox.js';
import { syncTree } from '../../src/engine/treesync.js';
import { BurstSettle } from '../../src/engine/burst.js';
import { LinkMemory } from '../../src/engine/memory.js';
import { compileExclude } from '../../src/core/exclude.js';
import { silentLogger } from '../../src/core/log.js';
import type { Entry, PendingChange } from '../../src/core/types.js';
import { diffSnapshots, snapshot } from '../support/tree.js';

let dir: string;
let a: string;
let b: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'chain-push-'));
  a = join(dir, 'a');
  b = join(dir, 'b');
  mkdirSync(a);
  mkdirSync(b);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ctx = (memory = new LinkMemory(), exclude: string[] = []) => ({
  source: new LocalRemote(a, 'a'),
  target: new LocalRemote(b, 'b'),
  exclude: compileExclude(exclude),
  deleteEnabled: true,
  memory,
  log: silentLogger,
});
const ch = (path: string, kind: PendingChange['kind'] = 'change'): PendingChange => ({ path, kind, since: Date.now(), at: Date.now() });
const same = () => assert.deepEqual(diffSnapshots(snapshot(a), snapshot(b)), []);

test('new files, dirs and links arrive with mode and mtime; then a second push does nothing', async () => {
  mkdirSync(join(a, 'd/e'), { recursive: true });
  writeFileSync(join(a, 'd/e/f.txt'), 'hello');
  chmodSync(join(a, 'd/e/f.txt'), 0o600);
  utimesSync(join(a, 'd/e/f.txt'), 1_000_000, 1_000_000);
  symlinkSync('e/f.txt', join(a, 'd/l'));
  const m = new LinkMemory();
  const r = await pushBatch(ctx(m), [ch('d'), ch('d/e'), ch('d/e/f.txt'), ch('d/l')]);
  assert.deepEqual(r.failed, []);
  same();
  assert.equal(r.stats.files, 1);
  assert.equal(r.stats.links, 1);
  const again = await pushBatch(ctx(m), [ch('d/e/f.txt'), ch('d/l')]);
  assert.equal(again.changed.length, 0);
  const fresh = await pushBatch(ctx(), [ch('d/e/f.txt'), ch('d/l')]);
  assert.equal(fresh.changed.length, 0, 'identical on the target: compare-before-copy skips');
});

test('a file moved inside one batch is renamed on the target, not sent again', async () => {
  writeFileSync(join(a, 'x.bin'), 'x'.repeat(5000));
  await pushBatch(ctx(), [ch('x.bin')]);
  renameSync(join(a, 'x.bin'), join(a, 'y.bin'));
  const inode = statSync(join(b, 'x.bin')).ino;
  const r = await pushBatch(ctx(), [ch('x.bin', 'delete'), ch('y.bin')]);
  assert.equal(r.stats.renamed, 1);
  assert.equal(r.stats.files, 0);
  assert.equal(statSync(join(b, 'y.bin')).ino, inode);
  same();
});

test('a directory moved inside one batch is renamed on the target', async () => {
  mkdirSync(join(a, 'album/sub'), { recursive: true });
  for (let i = 0; i < 5; i++) writeFileSync(join(a, `album/p${i}.jpg`), `p${i}`);
  await pushBatch(ctx(), [ch('album')]);
  same();
  renameSync(join(a, 'album'), join(a, 'album-2024'));
  const r = await pushBatch(ctx(), [ch('album', 'delete'), ch('album-2024')]);
  assert.equal(r.stats.renamed, 1);
  assert.equal(r.stats.files, 0);
  same();
});

test('deletes of files and trees; delete of an absent path is a no-op', async () => {
  mkdirSync(join(a, 't/u'), { recursive: true });
  writeFileSync(join(a, 't/u/v'), 'v');
  writeFileSync(join(a, 'w'), 'w');
  await pushBatch(ctx(), [ch('t'), ch('w')]);
  rmSync(join(a, 't'), { recursive: true });
  rmSync(join(a, 'w'));
  const r = await pushBatch(ctx(), [ch('t', 'delete'), ch('t/u/v', 'delete'), ch('w', 'delete')]);
  assert.equal(r.failed.length, 0);
  same();
  const again = await pushBatch(ctx(), [ch('w', 'delete')]);
  assert.equal(again.changed.length, 0);
});

test('type changes: a dir where a file was, a file where a dir was', async () => {
  writeFileSync(join(a, 'p'), 'file');
  mkdirSync(join(a, 'q/r'), { recursive: true });
  await pushBatch(ctx(), [ch('p'), ch('q')]);
  rmSync(join(a, 'p'));
  mkdirSync(join(a, 'p'));
  writeFileSync(join(a, 'p/inner'), 'i');
  rmSync(join(a, 'q'), { recursive: true });
  writeFileSync(join(a, 'q'), 'now a file');
  await pushBatch(ctx(), [ch('p'), ch('p/inner'), ch('q')]);
  same();
});

test('excluded paths and .chain/ are never pushed', async () => {
  writeFileSync(join(a, 'keep.jpg'), 'k');
  writeFileSync(join(a, 'skip.tmp'), 's');
  mkdirSync(join(a, '.chain/tmp'), { recursive: true });
  writeFileSync(join(a, '.chain/tmp/x'), 'x');
  await pushBatch(ctx(new LinkMemory(), ['*.tmp']), [ch('keep.jpg'), ch('skip.tmp'), ch('.chain/tmp/x')]);
  assert.ok(existsSync(join(b, 'keep.jpg')));
  assert.ok(!existsSync(join(b, 'skip.tmp')));
  assert.ok(!existsSync(join(b, '.chain/tmp/x')));
});

test('a newer file on the target is not overwritten by an older local one', async () => {
  writeFileSync(join(a, 'f'), 'old');
  utimesSync(join(a, 'f'), 1000, 1000);
  writeFileSync(join(b, 'f'), 'newer');
  utimesSync(join(b, 'f'), 2000, 2000);
  const r = await pushBatch(ctx(), [ch('f')]);
  assert.equal(r.stats.files, 0);
  assert.equal(statSync(join(b, 'f')).size, 5);
});

test('a directory chmod is not undone by the older mode coming back round the ring', async () => {
  // cp -a, tar and rsync make a directory 0700 and chmod it once it is filled; a pusher that read it
  // in between sent 0700 on. That version, back at its origin after the chmod, must lose there.
  mkdirSync(join(a, 'up'), { mode: 0o700 });
  chmodSync(join(a, 'up'), 0o700);
  mkdirSync(join(b, 'up'));
  chmodSync(join(b, 'up'), 0o755);
  const up = (await new LocalRemote(a, 'a').lstat('up'))!;
  await pushBatch({ ...ctx(), ringSize: 3 }, [{ ...ch('up'), arrived: { hops: 1, entry: up, origin: 'c' } }]);
  assert.equal(statSync(join(b, 'up')).mode & 0o777, 0o755, 'the target keeps its chmod');
  const notice = (await drainInbox(b)).find((c) => c.path === 'up')?.arrived;
  assert.equal(notice?.entry?.mode, 0o755, 'the target is told its version wins, so it sends it round');
  assert.equal(notice?.origin, 'b');
  // a chmod made here, over what this link last pushed there, is carried even when it lowers the mode
  const m = new LinkMemory();
  m.set('up', (await new LocalRemote(b, 'b').lstat('up'))!);
  await pushBatch({ ...ctx(m), ringSize: 3 }, [ch('up')]);
  assert.equal(statSync(join(b, 'up')).mode & 0o777, 0o700);
});

test('tree sync sends only what differs and never deletes', async () => {
  for (let i = 0; i < 50; i++) {
    mkdirSync(join(a, `s/${i % 5}`), { recursive: true });
    writeFileSync(join(a, `s/${i % 5}/${i}`), `${i}`);
  }
  const ap = new Applier(ctx());
  await syncTree(ap, '');
  assert.equal(ap.stats.files, 50);
  same();
  writeFileSync(join(a, 's/0/0'), 'changed!');
  writeFileSync(join(b, 'only-on-target'), 't');
  const ap2 = new Applier(ctx());
  await syncTree(ap2, '');
  assert.equal(ap2.stats.files, 1);
  assert.ok(existsSync(join(b, 'only-on-target')));
});

test('a rescan of the root compares its entries but never touches the root itself', async () => {
  writeFileSync(join(a, 'lost-event.jpg'), 'no event was seen for me');
  chmodSync(a, 0o700);
  const r = await pushBatch(ctx(), [{ ...ch(''), tree: true }]);
  assert.equal(r.stats.files, 1);
  assert.ok(existsSync(join(b, 'lost-event.jpg')));
  assert.equal(statSync(b).mode & 0o777, 0o755);
  const gone = await pushBatch(ctx(), [ch('', 'delete')]);
  assert.equal(gone.stats.removed, 0);
  assert.ok(existsSync(b));
});

test('setuid and setgid bits are never replicated; the sticky bit and permissions are', async () => {
  writeFileSync(join(a, 'suid'), '#!/bin/sh\n');
  chmodSync(join(a, 'suid'), 0o6755);
  mkdirSync(join(a, 'shared'));
  chmodSync(join(a, 'shared'), 0o1777);
  const r = await pushBatch(ctx(), [ch('suid'), ch('shared')]);
  assert.deepEqual(r.failed, []);
  assert.equal(statSync(join(b, 'suid')).mode & 0o7777, 0o755);
  assert.equal(statSync(join(b, 'shared')).mode & 0o7777, 0o1777);
  const again = await pushBatch(ctx(), [ch('suid'), ch('shared')]);
  assert.equal(again.changed.length, 0, 'the masked modes compare equal: no endless re-push');
});

test('a rescan finds files in a subdirectory whose own events were lost (it exists on both sides)', async () => {
  mkdirSync(join(a, 'burst/d9/e2'), { recursive: true });
  mkdirSync(join(b, 'burst/d9/e2'), { recursive: true }); // made on the target while still empty
  for (let i = 0; i < 5; i++) writeFileSync(join(a, 'burst/d9/e2', `f${i}`), `${i}`);
  // the watcher reports only a rescan of burst (its events for d9, d9/e2 and the files were lost)
  const r = await pushBatch(ctx(), [{ ...ch('burst'), tree: true }]);
  assert.equal(r.stats.files, 5);
  same();
  // a subdirectory unchanged since (well before) the rescan's change is not walked: the change is
  // dated two minutes ahead here, as a directory's ctime cannot be set back
  writeFileSync(join(b, 'burst/d9/e2/only-on-target'), 'x');
  const c = ctx();
  const asked: string[] = [];
  const readdir = c.target.readdir.bind(c.target);
  c.target.readdir = (p) => (asked.push(p), readdir(p));
  const r2 = await pushBatch(c, [{ ...ch('burst'), since: Date.now() + 120_000, tree: true }]);
  assert.equal(r2.stats.files, 0);
  assert.deepEqual(asked, ['burst']);
});

test('a rescan finds lost files in a subdirectory whose mtime was set back once filled (cp -a, tar and rsync -a do that)', async () => {
  mkdirSync(join(a, 'burst/d9/e2'), { recursive: true });
  mkdirSync(join(b, 'burst/d9/e2'), { recursive: true }); // made on the target while still empty
  for (let i = 0; i < 5; i++) writeFileSync(join(a, 'burst/d9/e2', `f${i}`), `${i}`);
  // the copy's directory times, restored after its files: older than the burst
  utimesSync(join(a, 'burst/d9/e2'), 1_000_000, 1_000_000);
  utimesSync(join(a, 'burst/d9'), 1_000_000, 1_000_000);
  const r = await pushBatch(ctx(), [{ ...ch('burst'), tree: true }]);
  assert.equal(r.stats.files, 5);
  same();
});

// ---- the hop back to a change's origin ------------------------------------------------------------

const F = (size: number, mtime = 1000): Entry => ({ type: 'file', size, mtime, mode: 0o644 });
const D: Entry = { type: 'dir', size: 0, mtime: 1000, mode: 0o755 };
const arrival = (entry: Entry | null | undefined, origin: string | undefined, hops = 0, kind: PendingChange['kind'] = 'change'): PendingChange => ({
  ...ch('p', kind),
  arrived: { hops, ...(entry !== undefined && { entry }), ...(origin !== undefined && { origin }) },
});

const skipRows: { name: string; change: PendingChange; local: Entry | null; last?: Entry | null; want: boolean }[] = [
  { name: 'came from the target, still what arrived, never pushed there', change: arrival(F(5), 'b'), local: F(5), want: true },
  { name: 'a delete that came from the target, still absent here', change: arrival(null, 'b', 0, 'delete'), local: null, want: true },
  { name: 'link memory says the target got exactly that version', change: arrival(F(5), 'b'), local: F(5), last: F(5), want: true },
  { name: 'a local change, no arrival', change: ch('p'), local: F(5), want: false },
  { name: 'came from another host', change: arrival(F(5), 'c'), local: F(5), want: false },
  { name: 'origin not said (an older chain wrote the manifest)', change: arrival(F(5), undefined), local: F(5), want: false },
  { name: 'version not said', change: arrival(undefined, 'b'), local: F(5), want: false },
  { name: 'changed here since it arrived', change: arrival(F(5), 'b'), local: F(6), want: false },
  { name: 'deleted here since it arrived', change: arrival(F(5), 'b'), local: null, want: false },
  { name: 'hops to spare (it must go past its origin, e.g. after a bypass)', change: arrival(F(5), 'b', 1), local: F(5), want: false },
  { name: 'a directory (its entries are then checked here: checkLocally)', change: arrival(D, 'b'), local: D, want: true },
  { name: 'this link put another version there: the two may have crossed', change: arrival(F(5), 'b'), local: F(5), last: F(7), want: false },
  { name: 'this link removed it there', change: arrival(F(5), 'b'), local: F(5), last: null, want: false },
];
for (const r of skipRows) {
  test(`skipBack: ${r.name} → ${r.want}`, () => {
    assert.equal(skipBack(r.change, r.local, 'b', r.last), r.want);
  });
}

test('the last hop: paths that came from the target and are unchanged are delivered without a look there', async () => {
  const entries: Entry[] = [];
  for (let i = 0; i < 20; i++) {
    writeFileSync(join(a, `f${i}`), 'x'.repeat(i + 1));
    writeFileSync(join(b, `f${i}`), 'x'.repeat(i + 1));
    utimesSync(join(a, `f${i}`), 1000, 1000);
    utimesSync(join(b, `f${i}`), 1000, 1000);
    entries.push((await new LocalRemote(a, 'a').lstat(`f${i}`))!);
  }
  const c = ctx();
  let looked = 0;
  const lstat = c.target.lstat.bind(c.target);
  c.target.lstat = async (p) => (looked++, lstat(p));
  const batch = entries.map((e, i) => ({ ...ch(`f${i}`), arrived: { hops: 0, entry: e, origin: 'b' } }));
  const r = await pushBatch(c, batch);
  assert.equal(looked, 0, 'nothing asked of the origin');
  assert.equal(r.stats.skipped, 20);
  assert.deepEqual(r.changed, []);
  assert.deepEqual(r.retry, []);
  // and the watcher's echo of the same writes needs no look either: the link remembers them
  const echo = await pushBatch(c, entries.map((_, i) => ch(`f${i}`)));
  assert.equal(looked, 0);
  assert.equal(echo.stats.skipped, 20);
});

test('origins in manifests: a change made here sets out from here; what arrived and is still here keeps its origin', async () => {
  writeFileSync(join(a, 'mine'), 'made on a');
  writeFileSync(join(a, 'passing'), 'made on c');
  utimesSync(join(a, 'passing'), 1000, 1000);
  const passing = (await new LocalRemote(a, 'a').lstat('passing'))!;
  mkdirSync(join(a, 'newdir'));
  writeFileSync(join(a, 'newdir/inner'), 'in a new dir');
  const r = await pushBatch({ ...ctx(), ringSize: 3 }, [ch('mine'), { ...ch('passing'), arrived: { hops: 1, entry: passing, origin: 'c' } }, ch('newdir')]);
  await sendManifest(new LocalRemote(b, 'b'), 'a', r.changed);
  const got = new Map((await drainInbox(b)).map((c) => [c.path, c.arrived]));
  assert.equal(got.get('mine')?.origin, 'a');
  assert.equal(got.get('passing')?.origin, 'c');
  assert.equal(got.get('passing')?.hops, 0);
  assert.equal(got.get('newdir/inner')?.origin, 'a', 'sent by the tree sync of a new directory: read here');
});

test('a directory back at its origin: its entries are checked against what the link knows, not by listing the origin', async () => {
  const m = new LinkMemory();
  const src = new LocalRemote(a, 'a');
  mkdirSync(join(a, 'd/sub'), { recursive: true });
  for (const f of ['d/known', 'd/waiting', 'd/lost', 'd/sub/lost-too']) writeFileSync(join(a, f), f);
  m.set('d/known', await src.lstat('d/known'));
  m.set('d/sub', await src.lstat('d/sub'));
  const waiting = await src.lstat('d/waiting');
  mkdirSync(join(b, 'd/sub'), { recursive: true });
  const c = { ...ctx(m), arrivedOf: (p: string) => (p === 'd/waiting' ? { hops: 0, entry: waiting, origin: 'b' } : undefined) };
  const asked: string[] = [];
  for (const op of ['lstat', 'readdir'] as const) {
    const f = c.target[op].bind(c.target) as (p: string) => Promise<never>;
    (c.target as unknown as Record<string, unknown>)[op] = (p: string) => (asked.push(`${op} ${p}`), f(p));
  }
  const d = (await src.lstat('d'))!;
  const r = await pushBatch(c, [{ ...ch('d'), arrived: { hops: 0, entry: d, origin: 'b' } }]);
  // known there: nothing; its arrival waits in the queue: its own turn; the rest (files whose
  // events were lost here) is looked up one by one and sent, as a tree sync would
  assert.deepEqual(asked.sort(), ['lstat d/lost', 'lstat d/sub/lost-too'], 'no listing of the origin');
  assert.equal(r.stats.files, 2);
  assert.ok(existsSync(join(b, 'd/sub/lost-too')) && !existsSync(join(b, 'd/known')) && !existsSync(join(b, 'd/waiting')));
  assert.deepEqual(r.failed, []);
  assert.deepEqual(r.retry, []);
  // a rescan of the same directory (events lost) lists the target as before
  await pushBatch(c, [{ ...ch('d'), tree: true, arrived: { hops: 0, entry: d, origin: 'b' } }]);
  assert.ok(asked.includes('readdir d'));
});

test('a directory event for a directory this link made there: files in it whose events were lost are found without listing the target', async () => {
  const m = new LinkMemory();
  mkdirSync(join(a, 'new'));
  const first = await pushBatch(ctx(m), [ch('new')]);
  assert.equal(first.stats.dirs, 1);
  // files written before the watcher watched the directory: no events of their own
  for (let i = 0; i < 3; i++) writeFileSync(join(a, `new/f${i}`), `${i}`);
  const c = ctx(m);
  const asked: string[] = [];
  const readdir = c.target.readdir.bind(c.target);
  c.target.readdir = (p) => (asked.push(p), readdir(p));
  const r = await pushBatch(c, [ch('new')]); // the directory's own (late) event
  assert.equal(r.stats.files, 3);
  assert.equal(asked.length, 0, 'few unknown entries: looked up one by one');
  same();
  // many: one listing instead
  for (let i = 0; i < 40; i++) writeFileSync(join(a, `new/g${i}`), `${i}`);
  const r2 = await pushBatch(c, [ch('new')]);
  assert.equal(r2.stats.files, 40);
  assert.deepEqual(asked, ['new']);
  same();
});

test('a rescan of the root and the new directories of the same burst send each file once', async () => {
  // a burst's rescan names the root (the new top directory's parent) and every leaf directory;
  // the leaves, planned as new on the target, were sent again after the root's compare filled them
  for (const d of ['b0/d0/e0', 'b0/d0/e1', 'b0/d1/e0']) {
    mkdirSync(join(a, d), { recursive: true });
    for (let i = 0; i < 5; i++) writeFileSync(join(a, d, `f${i}`), `${d}/${i}`);
  }
  const c = ctx();
  let puts = 0;
  const put = c.target.put.bind(c.target);
  c.target.put = (...args) => (puts++, put(...args));
  const tree = { tree: true };
  const r = await pushBatch(c, [{ ...ch(''), ...tree }, { ...ch('b0/d0/e0'), ...tree }, { ...ch('b0/d0/e1'), ...tree }, { ...ch('b0/d1/e0'), ...tree }]);
  assert.deepEqual(r.failed, []);
  assert.equal(puts, 15, 'each file put once');
  assert.equal(r.stats.files, 15);
  same();
});

/** b0/d{0,1,2}/e0/f{0..4}, pushed: the link's memory knows it all there */
async function knownTree(): Promise<LinkMemory> {
  for (let i = 0; i < 3; i++) {
    mkdirSync(join(a, `b0/d${i}/e0`), { recursive: true });
    for (let j = 0; j < 5; j++) writeFileSync(join(a, `b0/d${i}/e0/f${j}`), `${i}${j}`);
  }
  const m = new LinkMemory();
  await pushBatch(ctx(m), [ch('b0')]);
  return m;
}

test('a rescan of a top directory the link knows finds a file deep inside whose event was lost, without listing the target', async () => {
  const m = await knownTree();
  same();
  writeFileSync(join(a, 'b0/d1/e0/late'), 'its event was dropped (inotify queue overflow)');
  const c = ctx(m);
  const asked: string[] = [];
  const readdir = c.target.readdir.bind(c.target);
  c.target.readdir = (p) => (asked.push(p), readdir(p));
  const r = await pushBatch(c, [{ ...ch('b0'), tree: true }]);
  assert.equal(r.stats.files, 1);
  assert.deepEqual(asked, []);
  same();
});

test('a rescan of a top directory the link knows finds a lost file in a subdirectory whose mtime was set back after it (cp -a)', async () => {
  const m = await knownTree();
  writeFileSync(join(a, 'b0/d1/e0/late'), 'its event was dropped (inotify queue overflow)');
  utimesSync(join(a, 'b0/d1/e0'), 1_000_000, 1_000_000);
  utimesSync(join(a, 'b0/d1'), 1_000_000, 1_000_000);
  const r = await pushBatch(ctx(m), [{ ...ch('b0'), tree: true }]);
  assert.equal(r.stats.files, 1);
  assert.ok(existsSync(join(b, 'b0/d1/e0/late')));
});

/**
 * Rewrite file (as 'XX', an old mtime) in place until its ctime falls in a later second than every
 * one of dirs' (the file system's clock, which may lag Date.now() a little); that second.
 */
async function rewriteInLaterSecond(file: string, dirs: string[]): Promise<number> {
  const second = (rel: string) => Math.floor(statSync(join(a, rel)).ctimeMs / 1000);
  const last = Math.max(...dirs.map(second));
  let burst: number;
  do {
    await new Promise((r) => setTimeout(r, 50));
    writeFileSync(join(a, file), 'XX');
    utimesSync(join(a, file), 2_000_000, 2_000_000);
    burst = second(file);
  } while (burst <= last);
  return burst;
}

test("a settled burst's rescan (full) goes into every directory: a file rewritten in place leaves its directory's ctime as it was", async () => {
  const m = await knownTree();
  writeFileSync(join(b, 'b0/d2/e0/f4'), 'other'); // (a file the link forgot: see below)
  m.forget('b0/d2/e0/f4');
  // the burst (a rewrite in place, its event lost) comes in a later second than the directories'
  // last change
  const burst = await rewriteInLaterSecond('b0/d1/e0/f2', ['b0', ...[0, 1, 2].flatMap((i) => [`b0/d${i}`, `b0/d${i}/e0`])]);
  // (the rescan looks 30 s before the burst's start: dated 30 s on, it looks from the burst on)
  const since = burst * 1000 + 30_000;
  const c = ctx(m);
  const asked: string[] = [];
  for (const op of ['lstat', 'readdir'] as const) {
    const f = c.target[op].bind(c.target) as (p: string) => Promise<never>;
    (c.target as unknown as Record<string, unknown>)[op] = (p: string) => (asked.push(`${op} ${p}`), f(p));
  }
  const shallow = await pushBatch(c, [{ ...ch('b0'), since, tree: true }]);
  assert.equal(shallow.stats.files, 0, 'a rescan goes only into directories changed since the burst began');
  // a directory the link does not know, unchanged since the burst began, is gone into all the same
  m.forget('b0/d1');
  asked.length = 0;
  const r = await pushBatch(c, [{ ...ch('b0'), since, tree: true, full: true }]);
  assert.equal(r.stats.files, 1);
  assert.equal(readFileSync(join(b, 'b0/d1/e0/f2'), 'utf8'), 'XX');
  assert.deepEqual([...new Set(asked)], ['lstat b0/d1/e0/f2'], 'the target asked about the changed file only');
  // unchanged since the burst began, so not its concern (though the link forgot it and it differs)
  assert.equal(readFileSync(join(b, 'b0/d2/e0/f4'), 'utf8'), 'other');
});

test("a settled burst that made a new top directory: the new tree is gone through in full, the root's own entries compared, the rest of the tree not listed", async () => {
  const m = await knownTree(); // b0/: the tree that was there before the burst
  for (let i = 0; i < 2; i++) {
    mkdirSync(join(a, `n1/d${i}`), { recursive: true });
    for (let j = 0; j < 3; j++) writeFileSync(join(a, `n1/d${i}/f${j}`), `${i}${j}`);
  }
  await pushBatch(ctx(m), [ch('n1')]); // the burst's new directory, sent
  // in a later second: lost events of the burst's end, a file rewritten in place deep in the new
  // tree and a file written straight into the root
  const burst = await rewriteInLaterSecond('n1/d1/f2', ['', 'n1', 'n1/d0', 'n1/d1']);
  writeFileSync(join(a, 'top.txt'), 'its event was lost');
  utimesSync(join(a, 'n1'), 1_000_000, 1_000_000); // (cp -a sets a filled directory's times back)
  // what the burst's settle hands the link: the root (parent of n1) and n1's directories were
  // rescanned during the burst (the rescan looks 30 s before the burst's start: dated 30 s on)
  const settled: PendingChange[][] = [];
  const settle = new BurstSettle(10, (c) => settled.push(c));
  settle.add(['', 'n1', 'n1/d0', 'n1/d1'], Date.now(), burst * 1000 + 30_000);
  while (!settled.length) await new Promise((r) => setTimeout(r, 10));
  const c = ctx(m);
  const listed: string[] = [];
  const readdir = c.source.readdir.bind(c.source);
  c.source.readdir = (p, o) => (listed.push(p), readdir(p, o));
  const r = await pushBatch(c, settled[0]!);
  assert.equal(r.stats.files, 2, 'the rewritten file and the root-level file');
  assert.equal(readFileSync(join(b, 'n1/d1/f2'), 'utf8'), 'XX');
  assert.ok(existsSync(join(b, 'top.txt')));
  assert.deepEqual([...new Set(listed)].sort(), ['', 'n1', 'n1/d0', 'n1/d1'], 'b0/ (no change since the burst began) is not gone into');
});

test('the target side of a batch is asked in one lstatMany where the Remote has it; a failing lstatMany falls back to one lstat per path', async () => {
  for (let i = 0; i < 30; i++) writeFileSync(join(a, `f${i}`), `v${i}`);
  for (const failing of [false, true]) {
    const calls: string[][] = [];
    let singles = 0;
    class Target extends LocalRemote {
      async lstatMany(paths: string[]): Promise<(Entry | null)[]> {
        calls.push(paths);
        if (failing) throw new Error('listing refused');
        return Promise.all(paths.map((p) => super.lstat(p)));
      }
      override async lstat(path: string) {
        singles++;
        return super.lstat(path);
      }
    }
    rmSync(b, { recursive: true, force: true });
    mkdirSync(b);
    const r = await pushBatch({ ...ctx(), target: new Target(b, 'b') }, Array.from({ length: 30 }, (_, i) => ch(`f${i}`)));
    assert.deepEqual(r.failed, []);
    same();
    assert.equal(calls.length, 1, 'one lstatMany for the whole batch');
    assert.equal(calls[0].length, 30);
    // with lstatMany answering, no path is asked on its own before it is planned (puts re-check only what they replace)
    if (!failing) assert.ok(singles < 30, `${singles} single lstats`);
    else assert.ok(singles >= 30, 'each path asked on its own after lstatMany failed');
  }
});
