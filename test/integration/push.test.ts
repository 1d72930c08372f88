// Issue 3: `chain push` from a cron-like loop keeps a ring in sync with no daemon; two at once → 75.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, rmSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { startHosts, type Ring } from '../support/sshd.js';
import { chain, spawnChain } from '../support/chain.js';
import { ringDiff } from '../support/tree.js';

let ring: Ring;
let cfg: string;
before(async () => {
  ring = await startHosts(3);
  cfg = ring.writeConfig({ interval: '200ms' });
});
after(async () => ring?.stop());

/** one "cron minute": every host runs chain push once, in ring order */
async function cronRound(): Promise<number[]> {
  const codes: number[] = [];
  for (const h of ring.hosts) codes.push((await chain(['--config', cfg, '--host', h.name, 'push', '--no-progress'])).exitCode);
  return codes;
}

test('chain push from a cron-like loop keeps the ring in sync', { timeout: 300_000 }, async () => {
  const [h1, h2, h3] = ring.hosts;
  mkdirSync(join(h1.root, 'a/b'), { recursive: true });
  for (let i = 0; i < 50; i++) writeFileSync(join(h1.root, 'a/b', `f${i}`), `one ${i}\n`);
  writeFileSync(join(h2.root, 'from-h2.txt'), 'two\n');
  // first runs compare whole trees (no history); two rounds carry everything round the ring
  assert.deepEqual(await cronRound(), [0, 0, 0]);
  assert.deepEqual(await cronRound(), [0, 0, 0]);
  assert.deepEqual(ringDiff(ring.hosts.map((h) => h.root)), []);

  // later runs push only what changed since the last run: edits, deletes, moves on different hosts
  writeFileSync(join(h3.root, 'a/b/f1'), 'edited on host3\n');
  rmSync(join(h2.root, 'a/b/f2'));
  renameSync(join(h1.root, 'a/b/f3'), join(h1.root, 'a/f3-moved'));
  const r = await chain(['--config', cfg, '--host', 'host1', 'push']);
  assert.match(r.stderr + r.stdout, /2 changes since the last run/);
  for (let round = 0; round < 3; round++) await cronRound();
  assert.deepEqual(ringDiff(ring.hosts.map((h) => h.root)), []);
});

test('two chain push at once: one exits 75 at once', { timeout: 120_000 }, async () => {
  const h1 = ring.hosts[0];
  // a big enough change that the first run is still going when the second starts
  mkdirSync(join(h1.root, 'big'));
  for (let i = 0; i < 3000; i++) writeFileSync(join(h1.root, 'big', `x${i}`), 'x'.repeat(1000));
  const first = spawnChain(['--config', cfg, '--host', 'host1', 'push', '--no-progress']);
  await first.waitFor(/since the last run|comparing/);
  const t0 = Date.now();
  const second = await chain(['--config', cfg, '--host', 'host1', 'push']);
  assert.equal(second.exitCode, 75, second.stderr);
  assert.match(second.stderr, /already works this host's state dir/);
  assert.ok(Date.now() - t0 < 10_000, 'the busy run exits at once');
  assert.equal((await first.proc).exitCode, 0);
});
