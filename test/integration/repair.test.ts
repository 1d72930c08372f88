// Issue 4, end to end: three real sshd hosts whose trees diverged while no daemon ran, repaired by
// the real `chain repair`: --dry-run changes nothing, a repair makes them identical and a second
// finds nothing to do; a wiped host stops a whole-ring repair until --from names the source; a host
// stopped mid-repair gives exit 3 with the others consistent and nothing half-written; a held lock
// gives exit 75 and pauses `watch`; --link, --delete and --max-delete.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, rmSync, utimesSync, readdirSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import watcher from '@parcel/watcher';
import { startHosts, type Ring, type TestHost } from '../support/sshd.js';
import { chain, spawnChain } from '../support/chain.js';
import { diffSnapshots, ringDiff, snapshot, until } from '../support/tree.js';

let ring: Ring;
let cfg: string;
const leaked: string[] = [];
const subs: watcher.AsyncSubscription[] = [];
const T0 = 1_700_000_000; // the trees' common past

before(async () => {
  ring = await startHosts(3);
  cfg = ring.writeConfig({ conflicts: 'keep', exclude: ['*.tmp'] });
  for (const h of ring.hosts) {
    // a temp name seen outside .chain/ would be a half-written file visible to users
    subs.push(
      await watcher.subscribe(h.root, (_e, evs) => {
        for (const ev of evs) if (!ev.path.includes('/.chain/') && /\.chain-tmp-/.test(ev.path)) leaked.push(ev.path);
      }),
    );
  }
});

after(async () => {
  for (const h of ring?.hosts ?? []) h.signal('SIGCONT', { all: true });
  const unsubscribe = async () => {
    for (const s of subs) await s.unsubscribe().catch(() => {});
  };
  await Promise.race([unsubscribe(), new Promise((r) => setTimeout(r, 5000))]);
  await ring?.stop();
});

const roots = () => ring.hosts.map((h) => h.root);
const snaps = () => ring.hosts.map((h) => snapshot(h.root));
const put = (h: TestHost, rel: string, data: string | Buffer, mtime: number) => {
  const p = join(h.root, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, data);
  utimesSync(p, mtime, mtime);
};
const age = (h: TestHost, rel: string, mtime: number) => utimesSync(join(h.root, rel), mtime, mtime);
const repair = (...args: string[]) => chain(['--config', cfg, '--no-progress', 'repair', ...args], { timeout: 120_000 });
/** empty a root, keeping the root itself */
const wipe = (h: TestHost) => {
  for (const n of readdirSync(h.root)) rmSync(join(h.root, n), { recursive: true, force: true });
};
const same = () => assert.deepEqual(ringDiff(roots()), []);

test('diverged trees: --dry-run changes nothing; repair makes all three identical; again: nothing to do', { timeout: 120_000 }, async () => {
  const [h1, h2, h3] = ring.hosts;
  // the tree every host had
  for (const h of ring.hosts) {
    put(h, 'shared.txt', 'v0\n', T0);
    put(h, 'notes.txt', 'notes v0\n', T0);
    put(h, 'gone-on-1.txt', 'x\n', T0);
    put(h, 'album/p1.jpg', randomBytes(3000), T0);
    put(h, 'album/sub/p2.jpg', randomBytes(10), T0);
    put(h, 'docs/a.md', 'a\n', T0);
    for (const d of ['album/sub', 'album', 'docs']) age(h, d, T0);
  }
  // make the three copies identical to start from (the random content differs per host)
  for (const h of [h2, h3]) for (const f of ['album/p1.jpg', 'album/sub/p2.jpg']) put(h, f, readFileSync(join(h1.root, f)), T0);
  // then, while no daemon ran: created, edited and deleted on each
  put(h1, 'new-on-1.txt', 'one\n', T0 + 100);
  rmSync(join(h1.root, 'gone-on-1.txt'));
  put(h1, 'notes.txt', 'notes edited on host1\n', T0 + 200);
  put(h2, 'new-on-2/deep/file.bin', randomBytes(70_000), T0 + 100);
  put(h2, 'shared.txt', 'edited on host2 (older edit)\n', T0 + 300);
  put(h2, 'scratch.tmp', 'excluded\n', T0 + 100);
  rmSync(join(h2.root, 'docs/a.md'));
  put(h3, 'shared.txt', 'edited on host3 (newer edit)\n', T0 + 400);
  rmSync(join(h3.root, 'album'), { recursive: true });
  put(h3, 'album', 'album is a file now\n', T0 + 500);
  const before = snaps();

  const dry = await repair('--dry-run', '--verbose');
  assert.equal(dry.exitCode, 0, dry.stdout + dry.stderr);
  assert.deepEqual(snaps().map((s, i) => diffSnapshots(before[i]!, s)), [[], [], []], 'a dry run changes nothing');
  assert.match(dry.stdout, /host2\s+>f\.\s+notes\.txt/, 'itemized: host2 gets host1’s notes');
  assert.match(dry.stdout, /host1\s+>f\+\s+album\s.*\(replaces dir\)/, 'the file replacing the directory wins');
  assert.match(dry.stdout, /host2\s+\*kp\s+shared\.txt\s+-> shared\.chain-conflict-host2-/, 'the older edit is kept as a conflict copy');
  assert.match(dry.stdout, /^HOST\s+ENTRIES\s+FILES/m);
  assert.match(dry.stdout, /dry run: nothing was changed/);
  assert.doesNotMatch(dry.stdout, /scratch\.tmp/, 'excluded paths are not repaired');

  const r = await repair();
  assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /host1, host2, host3 are consistent/);
  const s2 = snaps();
  s2[1]!.delete('scratch.tmp'); // excluded: only on host2, and stays there
  assert.deepEqual(diffSnapshots(s2[0]!, s2[1]!), []);
  assert.deepEqual(diffSnapshots(s2[0]!, s2[2]!), []);
  for (const root of roots()) {
    assert.equal(readFileSync(join(root, 'shared.txt'), 'utf8'), 'edited on host3 (newer edit)\n');
    assert.equal(readFileSync(join(root, 'notes.txt'), 'utf8'), 'notes edited on host1\n');
    assert.equal(readFileSync(join(root, 'album'), 'utf8'), 'album is a file now\n');
    // a whole-ring repair never deletes: what one host deleted comes back from the others
    assert.ok(existsSync(join(root, 'gone-on-1.txt')) && existsSync(join(root, 'docs/a.md')));
    const kept = readdirSync(root).filter((n) => n.startsWith('shared.chain-conflict-host2-'));
    assert.equal(kept.length, 1, `${root}: one conflict copy of host2's edit`);
    assert.equal(readFileSync(join(root, kept[0]!), 'utf8'), 'edited on host2 (older edit)\n');
    assert.equal(snapshot(root).get('new-on-2/deep/file.bin')?.size, 70_000);
  }
  assert.ok(existsSync(join(ring.hosts[1]!.root, 'scratch.tmp')));
  assert.ok(!existsSync(join(ring.hosts[0]!.root, 'scratch.tmp')));

  const again = await repair();
  assert.equal(again.exitCode, 0, again.stderr);
  assert.match(again.stdout, /nothing to do: \d+ paths identical on host1, host2, host3/);
  const j = await repair('--json');
  const doc = JSON.parse(j.stdout);
  assert.equal(doc.ok, true);
  assert.equal(doc.differing, 0);
  assert.deepEqual(leaked, []);
});

test('a wiped host: a whole-ring repair stops and says so; --from restores it', { timeout: 120_000 }, async () => {
  const h2 = ring.hosts[1]!;
  rmSync(join(h2.root, 'scratch.tmp'), { force: true });
  same();
  wipe(h2);
  const before = snaps();
  const r = await repair();
  assert.equal(r.exitCode, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /root of host2 is empty while host1, host3 hold/);
  assert.match(r.stderr, /chain repair --from host1/);
  assert.deepEqual(snaps().map((s, i) => diffSnapshots(before[i]!, s)), [[], [], []], 'nothing changed');

  const ok = await repair('--from', 'host1');
  assert.equal(ok.exitCode, 0, ok.stdout + ok.stderr);
  same();
});

test('usage: --delete needs a source; bad --link; unknown host', { timeout: 60_000 }, async () => {
  const a = await repair('--delete');
  assert.equal(a.exitCode, 2);
  assert.match(a.stderr, /--delete needs --from HOST or --link A:B/);
  const b = await repair('--link', 'host1');
  assert.equal(b.exitCode, 2);
  const c = await repair('--from', 'nosuch');
  assert.equal(c.exitCode, 2);
  assert.match(c.stderr, /host1, host2, host3/);
});

test('--link A:B changes only B; --delete with --max-delete', { timeout: 120_000 }, async () => {
  const [h1, h2, h3] = ring.hosts;
  same();
  put(h3, 'extra-1.txt', 'e\n', T0 + 10);
  put(h3, 'extra-dir/a', 'a\n', T0 + 10);
  put(h3, 'notes.txt', 'newer on host3, but host1 is the source\n', T0 + 9999);
  put(h2, 'only-on-2.txt', '2\n', T0 + 10);
  put(h1, 'from-1.txt', '1\n', T0 + 10);
  const s2 = snapshot(h2.root);
  const s1 = snapshot(h1.root);

  const link = await repair('--link', 'host1:host3');
  assert.equal(link.exitCode, 0, link.stdout + link.stderr);
  assert.match(link.stdout, /left in place \(--delete removes them\)/);
  assert.equal(readFileSync(join(h3.root, 'notes.txt'), 'utf8'), readFileSync(join(h1.root, 'notes.txt'), 'utf8'));
  assert.ok(existsSync(join(h3.root, 'from-1.txt')) && existsSync(join(h3.root, 'extra-1.txt')));

  const tooMany = await repair('--link', 'host1:host3', '--delete', '--max-delete', '2');
  assert.equal(tooMany.exitCode, 1, tooMany.stdout + tooMany.stderr);
  assert.match(tooMany.stderr, /would delete 3 paths \(host3: 3\), more than --max-delete 2/);
  assert.ok(existsSync(join(h3.root, 'extra-1.txt')), 'nothing deleted');

  const del = await repair('--link', 'host1:host3', '--delete', '--max-delete', '3');
  assert.equal(del.exitCode, 0, del.stdout + del.stderr);
  // trash is on by default: what --delete removed is kept in host3's .chain/trash/<day>/
  const day = readdirSync(join(h3.root, '.chain', 'trash')).sort().at(-1)!;
  assert.equal(readFileSync(join(h3.root, '.chain', 'trash', day, 'extra-1.txt'), 'utf8'), 'e\n');
  assert.ok(existsSync(join(h3.root, '.chain', 'trash', day, 'extra-dir', 'a')));
  assert.deepEqual(diffSnapshots(snapshot(h1.root), snapshot(h3.root)), []);
  assert.deepEqual(diffSnapshots(s2, snapshot(h2.root)), [], 'host2 untouched');
  assert.deepEqual(diffSnapshots(s1, snapshot(h1.root)), [], 'the source untouched');

  const all = await repair('--from', 'host1', '--delete');
  assert.equal(all.exitCode, 0, all.stdout + all.stderr);
  assert.ok(!existsSync(join(h2.root, 'only-on-2.txt')));
  same();
});

test('a held lock: a second repair exits 75 naming the holder, and watch pauses until it is gone', { timeout: 120_000 }, async () => {
  const [h1, h2] = ring.hosts;
  same();
  const lock = join(h2.root, '.chain', 'lock');
  mkdirSync(join(h2.root, '.chain'), { recursive: true });
  const holder = { host: 'somebody', machine: hostname(), command: 'repair', pid: process.pid, created: Date.now(), expires: Date.now() + 120_000, token: 'test' };
  writeFileSync(lock, JSON.stringify(holder));
  const before = snaps();
  put(h1, 'while-locked.txt', 'x\n', T0 + 20);
  const r = await repair();
  assert.equal(r.exitCode, 75, r.stdout + r.stderr);
  assert.match(r.stderr, new RegExp(`host2 is locked by chain repair on somebody \\(pid ${process.pid}`));
  assert.ok(!existsSync(join(h2.root, 'while-locked.txt')));
  assert.deepEqual(diffSnapshots(before[1]!, snapshot(h2.root)), []);
  assert.deepEqual(diffSnapshots(before[2]!, snapshot(ring.hosts[2]!.root)), []);

  // watch on host1 (pushing to host2) pauses instead of interleaving, and goes on once it is released
  rmSync(join(h1.root, 'while-locked.txt'));
  const d = spawnChain(['--config', cfg, '--host', 'host1', 'watch']);
  try {
    // even its first compare waits for the lock (the watcher already records changes meanwhile)
    await d.waitFor(/paused: host2's root is locked by chain repair on somebody/, 30_000);
    put(h1, 'during-lock.txt', 'y\n', T0 + 30);
    await new Promise((res) => setTimeout(res, 1500));
    assert.ok(!existsSync(join(h2.root, 'during-lock.txt')), 'nothing pushed while locked');
    rmSync(lock);
    await until(() => existsSync(join(h2.root, 'during-lock.txt')), 30_000, 'the push after the lock is gone');
    assert.match(d.log(), /lock released: resuming pushes to host2/);
  } finally {
    assert.equal(await d.stop('SIGTERM'), 0);
  }
  const ok = await repair();
  assert.equal(ok.exitCode, 0, ok.stdout + ok.stderr);
  same();
  assert.ok(!existsSync(lock), 'the repair removed its own lock');
});

test('a host stopped (SIGSTOP) during the repair: exit 3, the others consistent, nothing half-written', { timeout: 180_000 }, async () => {
  const [h1, h2, h3] = ring.hosts;
  same();
  // enough to be still copying when host3 stops
  const n = 300;
  for (let i = 0; i < n; i++) put(h1, `big/f${String(i).padStart(3, '0')}.bin`, randomBytes(256 * 1024), T0 + 50);
  leaked.length = 0;
  const run = spawnChain(['--config', cfg, '--no-progress', 'repair']);
  const count = () => (existsSync(join(h3.root, 'big')) ? readdirSync(join(h3.root, 'big')).length : 0);
  await until(() => count() >= 10, 60_000, 'the first files on host3', 10);
  h3.signal('SIGSTOP', { all: true });
  let code: number | undefined;
  try {
    // the repair notices the stopped host after about connectTimeout (5 s here) of silence
    const bound = setTimeout(() => run.proc.kill('SIGKILL'), 90_000);
    code = (await run.proc).exitCode;
    clearTimeout(bound);
  } finally {
    h3.signal('SIGCONT', { all: true });
  }
  assert.equal(code, 3, run.log());
  assert.match(run.log(), /host3 stopped answering/);
  assert.deepEqual(diffSnapshots(snapshot(h1.root), snapshot(h2.root)), [], 'host1 and host2 consistent');
  // what reached host3 is whole: every file there is host1's version, and no temp name outside .chain/
  const s1 = snapshot(h1.root);
  const s3 = snapshot(h3.root);
  assert.ok(s3.size < s1.size, 'host3 was stopped before it had everything');
  for (const [p, node] of s3) {
    assert.doesNotMatch(p, /\.chain-tmp-/);
    assert.deepEqual(node, s1.get(p), `${p} on host3`);
  }
  assert.deepEqual(leaked, []);
  // host3 is back: the next repair completes it
  const again = await repair();
  assert.equal(again.exitCode, 0, again.stdout + again.stderr);
  same();
});
