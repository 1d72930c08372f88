// The status file: written whole or not at all, read back, and judged running / stopped / gone / stale.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { StatusWriter, STALE_AFTER_MS, daemonState, pidAlive, readStatus, statusPath } from '../../src/engine/status-file.js';
import { newLink, type DaemonStatus } from '../../src/engine/status.js';
import { ChainError } from '../../src/core/errors.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'chain-status-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function fakeStatus(over: Partial<DaemonStatus> = {}): DaemonStatus {
  const now = Date.now();
  return {
    host: 'apollo', pid: process.pid, command: 'watch', config: '/etc/chain/chain.yaml', root: '/srv/images',
    ring: ['apollo', 'chronos', 'hermes'], startedAt: now - 60_000, updatedAt: now - 60_000,
    links: [{ ...newLink('chronos', 'successor'), state: 'up', pending: 2, oldestPendingAt: now - 1000 }],
    ...over,
  };
}

/** a pid that surely belonged to a process and is now free */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test('start writes at once into a new 0700 state dir; flush rewrites; no temp file stays behind', async () => {
  const state = join(dir, 'var/lib/chain');
  let pending = 2;
  const w = new StatusWriter({ stateDir: state, status: () => fakeStatus({ links: [{ ...newLink('chronos', 'successor'), pending }] }), everyMs: 60_000 });
  w.start();
  await w.flush();
  assert.equal(statSync(state).mode & 0o777, 0o700);
  const first = readStatus(state)!;
  assert.equal(first.host, 'apollo');
  assert.equal(first.links[0]!.pending, 2);
  assert.ok(Date.now() - first.updatedAt < 5000, 'updatedAt is stamped at each write (the heartbeat)');
  assert.equal(first.stoppedAt, undefined);
  pending = 7;
  await w.flush();
  assert.equal(readStatus(state)!.links[0]!.pending, 7);
  await w.stop();
  assert.deepEqual(readdirSync(state), ['status.json']);
});

test('the timer rewrites every everyMs; stop marks stoppedAt and is the last write', async () => {
  let calls = 0;
  const w = new StatusWriter({ stateDir: dir, status: () => (calls++, fakeStatus()), everyMs: 20 });
  w.start();
  // a loaded machine may run the timer late: wait for three writes, bounded generously
  const end = Date.now() + 5000;
  while (calls < 3 && Date.now() < end) await sleep(20);
  assert.ok(calls >= 3, `written ${calls} times in 5s at 20ms`);
  await w.stop();
  const stopped = readStatus(dir)!;
  assert.ok(stopped.stoppedAt !== undefined && stopped.stoppedAt >= stopped.startedAt);
  const after = calls;
  await sleep(80);
  assert.equal(calls, after, 'nothing written after stop');
  assert.equal(readStatus(dir)!.stoppedAt, stopped.stoppedAt);
  await w.stop(); // twice is harmless
});

test('a reader never sees a half-written file (temp + rename)', async () => {
  // a big status makes a torn write likely if it were written in place
  const links = Array.from({ length: 2000 }, (_, i) => ({ ...newLink(`host${i}`, 'successor' as const), lastError: 'x'.repeat(100) }));
  const w = new StatusWriter({ stateDir: dir, status: () => fakeStatus({ links }), everyMs: 60_000 });
  await w.flush();
  let reads = 0;
  let writing = true;
  const writer = (async () => {
    for (let i = 0; i < 40; i++) await w.flush();
    writing = false;
  })();
  while (writing) {
    const s = readStatus(dir); // throws ChainError on a torn file
    assert.equal(s!.links.length, 2000);
    reads++;
    await sleep(0);
  }
  await writer;
  assert.ok(reads > 0);
});

test('mirror receives each write; a failing mirror is told once and the local file is still written', async () => {
  const mirrored: string[] = [];
  const w1 = new StatusWriter({ stateDir: dir, status: () => fakeStatus(), mirror: async (json) => void mirrored.push(json) });
  await w1.flush();
  assert.equal(mirrored.length, 1);
  assert.equal(mirrored[0], readFileSync(statusPath(dir), 'utf8'));

  const errors: Error[] = [];
  const w2 = new StatusWriter({
    stateDir: dir,
    status: () => fakeStatus({ host: 'hermes' }),
    mirror: async () => {
      throw new Error('disk full');
    },
    onError: (e) => errors.push(e),
  });
  await w2.flush();
  await w2.flush();
  assert.equal(readStatus(dir)!.host, 'hermes');
  assert.equal(errors.length, 1, 'the same failure is reported once, not every second');
  assert.match(errors[0]!.message, /\.chain\/status\.json.*disk full/);
});

test('an unwritable state dir: flush rejects with a ChainError naming the file, onError hears it', async () => {
  const file = join(dir, 'not-a-dir');
  writeFileSync(file, '');
  const errors: Error[] = [];
  const w = new StatusWriter({ stateDir: file, status: () => fakeStatus(), onError: (e) => errors.push(e) });
  await assert.rejects(w.flush(), (e: unknown) => e instanceof ChainError && e.message.includes(join(file, 'status.json')));
  assert.equal(errors.length, 1);
});

test('readStatus: null when there is none, a ChainError naming the file when it is not a status', () => {
  assert.equal(readStatus(join(dir, 'missing')), null);
  writeFileSync(statusPath(dir), '{"host": "apollo", "pi');
  assert.throws(() => readStatus(dir), (e: unknown) => e instanceof ChainError && e.message.includes(statusPath(dir)) && /not JSON/.test(e.message));
  writeFileSync(statusPath(dir), '{"host": "apollo"}');
  assert.throws(() => readStatus(dir), /lacks/);
});

test('daemonState: running, stopped, gone (dead pid), stale (30 s without an update)', () => {
  const now = Date.now();
  const rows: [string, Partial<DaemonStatus>, ReturnType<typeof daemonState>, boolean?][] = [
    ['own pid, just updated', { updatedAt: now }, 'running'],
    ['clean stop', { updatedAt: now, stoppedAt: now }, 'stopped'],
    ['pid no longer exists', { pid: deadPid(), updatedAt: now }, 'gone'],
    ['alive pid, but silent for longer than STALE_AFTER_MS', { updatedAt: now - STALE_AFTER_MS - 1000 }, 'stale'],
    ['just under the limit', { updatedAt: now - STALE_AFTER_MS + 1000 }, 'running'],
    ['a clock ahead on another host is not stale', { updatedAt: now + 5000 }, 'running'],
    ["another host's pid is not checked", { pid: deadPid(), updatedAt: now }, 'running', false],
    ["another host's silent daemon is still stale", { pid: deadPid(), updatedAt: now - 60_000 }, 'stale', false],
  ];
  for (const [name, over, want, checkPid] of rows) {
    assert.equal(daemonState(fakeStatus(over), { now, checkPid }), want, name);
  }
});

test('pidAlive: this process yes, a finished one no, nonsense no', () => {
  assert.equal(pidAlive(process.pid), true);
  assert.equal(pidAlive(1), true); // init: EPERM for non-root still means alive
  assert.equal(pidAlive(deadPid()), false);
  assert.equal(pidAlive(0), false);
  assert.equal(pidAlive(-5), false);
});
