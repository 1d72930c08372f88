// Host locks over the local-filesystem Remote, the local lock file, and gate().
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync, existsSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir, hostname } from 'node:os';
import { spawnSync } from 'node:child_process';
import { LocalRemote } from '../../src/transport/local.js';
import { until } from '../support/tree.js';
import { LOCK_PATH, acquireHostLock, acquireLocalLock, gate, localHolder, readLocalLock, type LockInfo } from '../../src/engine/lock.js';

let dir: string;
let root: string;
let remote: LocalRemote;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'chain-lock-'));
  root = join(dir, 'root');
  mkdirSync(root);
  remote = new LocalRemote(root, 'h1');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const lockFile = () => join(root, LOCK_PATH);
const readLock = (): LockInfo => JSON.parse(readFileSync(lockFile(), 'utf8'));
/** the lock file, or undefined while it is being rewritten */
const tryRead = (): LockInfo | undefined => {
  try {
    return readLock();
  } catch {
    return undefined;
  }
};
/** a pid that surely is not running: a child that has exited */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid!;
const writeLock = (i: Partial<LockInfo>) => {
  mkdirSync(join(root, '.chain'), { recursive: true });
  const base: LockInfo = { host: 'other', machine: 'elsewhere', command: 'repair', pid: 1, created: Date.now(), expires: Date.now() + 60_000, token: 't0' };
  writeFileSync(lockFile(), JSON.stringify({ ...base, ...i }));
};

test('host lock: taken, seen as held (with who holds it), released, taken again', async () => {
  const a = await acquireHostLock(remote, { host: 'apollo', command: 'repair' });
  assert.ok(a.lock);
  const info = readLock();
  assert.equal(info.host, 'apollo');
  assert.equal(info.pid, process.pid);
  assert.equal(info.command, 'repair');
  assert.ok(info.expires > Date.now());
  const b = await acquireHostLock(remote, { host: 'chronos', command: 'repair' });
  assert.equal(b.lock, undefined);
  assert.equal(b.held?.host, 'apollo');
  await a.lock.release();
  assert.equal(existsSync(lockFile()), false);
  const c = await acquireHostLock(remote, { host: 'chronos', command: 'repair' });
  assert.ok(c.lock);
  await c.lock.release();
});

test('host lock: an expired lock is taken over', async () => {
  writeLock({ expires: Date.now() - 1000 });
  const a = await acquireHostLock(remote, { host: 'apollo', command: 'repair' });
  assert.ok(a.lock, 'stale lock taken over');
  assert.equal(readLock().host, 'apollo');
  await a.lock.release();
});

test('host lock: a lock of a dead process on this machine is taken over; on another machine it is not', async () => {
  writeLock({ machine: hostname(), pid: deadPid() });
  const a = await acquireHostLock(remote, { host: 'apollo', command: 'repair' });
  assert.ok(a.lock);
  await a.lock.release();
  writeLock({ machine: 'some-other-machine', pid: deadPid() });
  const b = await acquireHostLock(remote, { host: 'apollo', command: 'repair' });
  assert.equal(b.held?.host, 'other', 'a pid on another machine means nothing here: wait for the expiry');
});

test('host lock: unreadable content is held while fresh, stale when old', async () => {
  mkdirSync(join(root, '.chain'), { recursive: true });
  writeFileSync(lockFile(), '');
  const a = await acquireHostLock(remote, { host: 'apollo', command: 'repair' });
  assert.ok(a.held, 'being written: held');
  const old = Date.now() / 1000 - 60;
  utimesSync(lockFile(), old, old);
  const b = await acquireHostLock(remote, { host: 'apollo', command: 'repair' });
  assert.ok(b.lock);
  await b.lock.release();
});

test('host lock: refreshed while held; a lock taken over by someone else is not removed on release', async () => {
  const a = await acquireHostLock(remote, { host: 'apollo', command: 'repair', ttlMs: 2000, refreshMs: 50 });
  assert.ok(a.lock);
  const first = readLock().expires;
  // polled, never slept: on two busy cores a 50 ms timer may run late
  await until(() => (tryRead()?.expires ?? 0) > first, 10_000, 'the expiry pushed forward');
  // A refresh already past its read may write our lock back over the intruder's (the protocol's
  // read-then-write is not atomic; the intruder then sees our token and steps back). Keep the
  // intruder's lock in place until our refresh notices it.
  await until(() => {
    if (tryRead()?.token !== 'someone-else') writeLock({ token: 'someone-else', host: 'intruder' });
    return a.lock!.lost;
  }, 10_000, 'the takeover noticed', 20);
  await a.lock.release();
  assert.equal(readLock().host, 'intruder', 'not ours any more: left alone');
});

test('gate: resolves at once when nothing is locked; waits while the own root or the target is locked', async () => {
  const targetRoot = join(dir, 'target');
  mkdirSync(targetRoot);
  const target = new LocalRemote(targetRoot, 'h2');
  const ac = new AbortController();
  const quiet: string[] = [];
  await gate(target, root, ac.signal, { everyMs: 20, log: { info: (m) => quiet.push(m), warn() {}, error() {}, debug() {} } });
  assert.deepEqual(quiet, [], 'nothing locked: no pause');

  for (const locked of [remote, target]) {
    const held = await acquireHostLock(locked, { host: 'apollo', command: 'repair' });
    assert.ok(held.lock);
    const lines: string[] = [];
    let done = false;
    const g = gate(target, root, ac.signal, { everyMs: 20, log: { info: (m) => lines.push(m), warn() {}, error() {}, debug() {} } }).then(() => (done = true));
    const paused = () => lines.filter((l) => l.startsWith('paused')).length;
    await until(() => paused() > 0, 10_000, `the pause while ${locked.name} is locked`, 10);
    await new Promise((r) => setTimeout(r, 150)); // several more polls of the lock (proving a negative)
    assert.equal(done, false, `paused while ${locked.name} is locked`);
    assert.equal(paused(), 1, 'logged once');
    await held.lock.release();
    await g;
    assert.match(lines.at(-1)!, /resuming/);
  }
  // an abort ends the wait
  const held = await acquireHostLock(target, { host: 'apollo', command: 'repair' });
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 50);
  await gate(target, root, stop.signal, { everyMs: 20 });
  await held.lock!.release();
  assert.equal(await localHolder(root), null);
});

test('local lock: exclusive; released; a dead holder is taken over, a live one is not', () => {
  const file = join(dir, 'state', 'push.lock');
  const a = acquireLocalLock(file, 'push');
  assert.ok(a);
  assert.equal(readLocalLock(file)?.pid, process.pid);
  assert.equal(acquireLocalLock(file, 'push'), null, 'held by a live process (us)');
  a.release();
  assert.equal(existsSync(file), false);
  writeFileSync(file, JSON.stringify({ pid: deadPid(), command: 'push', host: hostname(), created: Date.now() }));
  const b = acquireLocalLock(file, 'push');
  assert.ok(b, 'dead holder taken over');
  assert.equal(readLocalLock(file)?.pid, process.pid);
  b.release();
  writeFileSync(file, '');
  assert.equal(acquireLocalLock(file, 'push'), null, 'being written: held');
});
