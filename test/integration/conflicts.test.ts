// Issue 3, item 4, end to end: three real sshd hosts, three `chain watch` daemons (the real binary).
// Concurrent edits of the same paths on every host converge on the version compareVersions picks,
// whatever order things arrive in; an older-dated restore (cp -p) wins, also across a restart;
// `conflicts: keep` keeps the loser under a chain-conflict name; the trash keeps what was replaced
// or deleted; `delete: false` never removes anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readFileSync, rmSync, utimesSync, statSync, existsSync, readdirSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, randomInt } from 'node:crypto';
import type { Ring } from '../support/sshd.js';
import { spawnChain, type Daemon } from '../support/chain.js';
import { ringForFile } from '../support/ring.js';
import { ringDiff, until } from '../support/tree.js';
import { compareVersions } from '../../src/core/entry.js';
import { conflictName, isConflictName } from '../../src/core/conflict.js';
import { trashDay } from '../../src/core/trash.js';
import type { Entry } from '../../src/core/types.js';

let ring: Ring;
const watchers = ringForFile(3, (r) => (ring = r));

const startAll = (cfg: string) => watchers.start(ring.hosts, cfg);
const stopAll = (ds: Daemon[]) => watchers.stop(ds);
const roots = () => ring.hosts.map((h) => h.root);
const diffs = () => ringDiff(roots()).slice(0, 8).join('\n');
const inboxEmpty = () => ring.hosts.every((h) => !existsSync(join(h.root, '.chain/inbox')) || readdirSync(join(h.root, '.chain/inbox')).length === 0);
const entryOf = (abs: string): Entry => {
  const st = statSync(abs);
  return { type: 'file', size: st.size, mtime: Math.floor(st.mtimeMs / 1000), mode: st.mode & 0o1777 };
};
const write = (abs: string, data: string | Buffer, mtime?: number) => {
  mkdirSync(join(abs, '..'), { recursive: true });
  writeFileSync(abs, data);
  if (mtime !== undefined) utimesSync(abs, mtime, mtime);
};
/** identical everywhere, and nothing left in flight, for a while */
async function quiet(what: string, timeoutMs = 120_000): Promise<void> {
  let since = 0;
  await until(
    () => {
      if (ringDiff(roots()).length || !inboxEmpty()) since = 0;
      else since ||= Date.now();
      return since > 0 && Date.now() - since > 1500;
    },
    timeoutMs,
    () => `${what}:\n${diffs()}`,
    100,
  );
}
const nextSecond = async () => {
  const s = Math.floor(Date.now() / 1000);
  await until(() => Math.floor(Date.now() / 1000) > s, 2000, 'the next second', 10);
};

test('the same paths edited on all three hosts within one second, many times: identical everywhere, on the version compareVersions picks', { timeout: 300_000 }, async () => {
  const cfg = ring.writeConfig({ interval: '300ms' }, join(ring.dir, 'same.yaml'));
  const ds = await startAll(cfg);
  const paths = ['same/a.txt', 'same/b.bin', 'same/deep/c', 'same/.d', 'same/e.tar.gz'];
  // sizes differ by host (mod 3): two versions never look alike by metadata (see the docs' limitation)
  const content = (host: number) => randomBytes(3 * randomInt(1, 20_000) + host);
  for (let round = 0; round < 10; round++) {
    for (const p of paths) for (const [i, h] of ring.hosts.entries()) write(join(h.root, p), content(i));
    await new Promise((r) => setTimeout(r, randomInt(0, 400))); // rounds overlap with what is in flight
  }
  await quiet('convergence after 10 rounds');
  // a last round on idle daemons, in a second of its own: nothing arrives anywhere before all is written
  await nextSecond();
  const last = new Map<string, { data: Buffer; entry: Entry; host: string }[]>();
  for (const p of paths)
    for (const [i, h] of ring.hosts.entries()) {
      const data = content(i);
      write(join(h.root, p), data);
      last.set(p, [...(last.get(p) ?? []), { data, entry: entryOf(join(h.root, p)), host: h.name }]);
    }
  await quiet('convergence after the last round');
  for (const [p, versions] of last) {
    const best = versions.reduce((x, y) => (compareVersions(x.entry, y.entry) >= 0 ? x : y));
    for (const h of ring.hosts) assert.ok(readFileSync(join(h.root, p)).equals(best.data), `${p} on ${h.name}: expected ${best.host}'s version (${best.entry.size} bytes)`);
  }
  assert.deepEqual(await stopAll(ds), [0, 0, 0]);
});

test('cp -p of an older backup on host1, after a restart of every daemon: the old version wins everywhere', { timeout: 300_000 }, async () => {
  const cfg = ring.writeConfig({ interval: '300ms' }, join(ring.dir, 'restore.yaml'));
  let ds = await startAll(cfg);
  const [h1] = ring.hosts;
  const now = Math.floor(Date.now() / 1000);
  const backup = join(ring.dir, 'backup-of-doc.txt');
  write(backup, 'the version from last week\n', now - 7 * 86_400);
  write(join(h1.root, 'restore/doc.txt'), 'a bad edit made today\n');
  await until(() => ring.hosts.every((h) => existsSync(join(h.root, 'restore/doc.txt'))) && ringDiff(roots()).length === 0, 60_000, () => `doc.txt everywhere:\n${diffs()}`);
  await quiet('doc.txt went round');
  // what each link pushed survives the restart (its memory is on disk)
  assert.deepEqual(await stopAll(ds), [0, 0, 0]);
  ds = await startAll(cfg);
  copyFileSync(backup, join(h1.root, 'restore/doc.txt'));
  utimesSync(join(h1.root, 'restore/doc.txt'), now - 7 * 86_400, now - 7 * 86_400); // cp -p
  await until(
    () => ring.hosts.every((h) => readFileSync(join(h.root, 'restore/doc.txt'), 'utf8') === 'the version from last week\n'),
    60_000,
    () => `the restore to reach every host:\n${ring.hosts.map((h) => `${h.name}: ${readFileSync(join(h.root, 'restore/doc.txt'), 'utf8').trim()}`).join('\n')}`,
  );
  await quiet('after the restore');
  for (const h of ring.hosts) assert.equal(entryOf(join(h.root, 'restore/doc.txt')).mtime, now - 7 * 86_400, h.name);
  assert.deepEqual(await stopAll(ds), [0, 0, 0]);
});

test('conflicts: keep: a concurrent edit leaves one version at the path and the loser under a chain-conflict name, everywhere', { timeout: 300_000 }, async () => {
  const cfg = ring.writeConfig({ interval: '300ms', conflicts: 'keep' }, join(ring.dir, 'keep.yaml'));
  const ds = await startAll(cfg);
  const [h1, h2] = ring.hosts;
  const base = Math.floor(Date.now() / 1000) - 60;
  write(join(h1.root, 'keep/report.txt'), 'base\n', base);
  await until(() => ring.hosts.every((h) => existsSync(join(h.root, 'keep/report.txt'))), 60_000, 'report.txt everywhere');
  await quiet('report.txt went round');
  // host1 and host2 edit it at once; host2's edit is the newer one
  write(join(h1.root, 'keep/report.txt'), 'edited on host1\n', base + 10);
  write(join(h2.root, 'keep/report.txt'), 'edited on host2\n', base + 20);
  const copy = conflictName('keep/report.txt', 'host1', base + 10);
  await until(() => ring.hosts.every((h) => existsSync(join(h.root, copy))), 60_000, () => `${copy} everywhere:\n${diffs()}`);
  await quiet('after the conflict');
  for (const h of ring.hosts) {
    assert.equal(readFileSync(join(h.root, 'keep/report.txt'), 'utf8'), 'edited on host2\n', h.name);
    assert.equal(readFileSync(join(h.root, copy), 'utf8'), 'edited on host1\n', h.name);
    assert.deepEqual(readdirSync(join(h.root, 'keep')).filter(isConflictName), [copy.slice('keep/'.length)], `${h.name}: one conflict copy`);
  }
  assert.deepEqual(await stopAll(ds), [0, 0, 0]);
});

test('trash: a delete and an overwrite leave the old versions under .chain/trash on the targets; delete: false removes nothing', { timeout: 300_000 }, async () => {
  const cfg = ring.writeConfig({ interval: '300ms', trash: '7d' }, join(ring.dir, 'trash.yaml'));
  let ds = await startAll(cfg);
  const [h1, h2, h3] = ring.hosts;
  write(join(h1.root, 'trash/gone.txt'), 'to be deleted\n');
  write(join(h1.root, 'trash/edited.txt'), 'first version\n', Math.floor(Date.now() / 1000) - 60);
  write(join(h1.root, 'trash/dir/inside.txt'), 'in a directory\n');
  await until(() => ring.hosts.every((h) => existsSync(join(h.root, 'trash/dir/inside.txt')) && existsSync(join(h.root, 'trash/gone.txt'))), 60_000, 'files everywhere');
  await quiet('files went round');
  rmSync(join(h1.root, 'trash/gone.txt'));
  rmSync(join(h1.root, 'trash/dir'), { recursive: true });
  write(join(h1.root, 'trash/edited.txt'), 'second version\n');
  await until(
    () => ring.hosts.every((h) => !existsSync(join(h.root, 'trash/gone.txt')) && !existsSync(join(h.root, 'trash/dir')) && readFileSync(join(h.root, 'trash/edited.txt'), 'utf8') === 'second version\n'),
    60_000,
    () => `the delete and the edit everywhere:\n${diffs()}`,
  );
  await quiet('after the delete and the edit');
  const inTrash = (root: string, rel: string) => {
    const dir = join(root, '.chain/trash');
    const days = existsSync(dir) ? readdirSync(dir) : [];
    return days.map((d) => join(dir, d, rel)).find((p) => existsSync(p));
  };
  for (const h of [h2, h3]) {
    assert.equal(readFileSync(inTrash(h.root, 'trash/gone.txt') ?? '/nonexistent', 'utf8'), 'to be deleted\n', `${h.name}: deleted file in the trash`);
    assert.equal(readFileSync(inTrash(h.root, 'trash/edited.txt') ?? '/nonexistent', 'utf8'), 'first version\n', `${h.name}: replaced file in the trash`);
    assert.equal(readFileSync(inTrash(h.root, 'trash/dir/inside.txt') ?? '/nonexistent', 'utf8'), 'in a directory\n', `${h.name}: a removed directory goes whole`);
    assert.ok(readdirSync(join(h.root, '.chain/trash')).every((d) => d === trashDay(Date.now()) || d === trashDay(Date.now() - 3_600_000)));
  }
  assert.equal(inTrash(h1.root, 'trash/gone.txt'), undefined, 'host1 made the change: nothing of it in its own trash');
  assert.deepEqual(await stopAll(ds), [0, 0, 0]);

  // delete: false
  const keepAll = ring.writeConfig({ interval: '300ms', delete: false }, join(ring.dir, 'nodelete.yaml'));
  ds = await startAll(keepAll);
  write(join(h1.root, 'nodelete/kept.txt'), 'never removed\n');
  await until(() => ring.hosts.every((h) => existsSync(join(h.root, 'nodelete/kept.txt'))), 60_000, 'kept.txt everywhere');
  await quiet('kept.txt went round');
  rmSync(join(h1.root, 'nodelete/kept.txt'));
  write(join(h1.root, 'nodelete/marker.txt'), 'sent after the delete\n');
  await until(() => ring.hosts.every((h) => existsSync(join(h.root, 'nodelete/marker.txt'))), 60_000, 'a marker sent after the delete');
  await new Promise((r) => setTimeout(r, 2000)); // proving a negative: the delete had time to travel
  for (const h of [h2, h3]) {
    assert.equal(readFileSync(join(h.root, 'nodelete/kept.txt'), 'utf8'), 'never removed\n', h.name);
    assert.equal(inTrash(h.root, 'nodelete/kept.txt'), undefined, h.name);
  }
  assert.deepEqual(await stopAll(ds), [0, 0, 0]);
});
