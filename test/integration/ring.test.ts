// Issue 2, end to end as a new user would: three real sshd hosts on loopback, a config per
// DESIGN.md, `chain check`, `chain watch` on each host, then files made, edited, moved and deleted
// on different hosts converge everywhere; each host is written once per change; no temp name is
// ever visible outside .chain/; a tree copied in with cp -a keeps its directory modes; SIGTERM exits 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, symlinkSync, chmodSync, appendFileSync, rmSync, renameSync, utimesSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import watcher from '@parcel/watcher';
import { startHosts, type Ring } from '../support/sshd.js';
import { chain, spawnChain, type Daemon } from '../support/chain.js';
import { ringDiff, snapshot, until } from '../support/tree.js';

let ring: Ring;
let cfg: string;
const daemons: Daemon[] = [];
const leaked: string[] = [];
const subs: watcher.AsyncSubscription[] = [];

before(async () => {
  ring = await startHosts(3);
  cfg = ring.writeConfig({ interval: '500ms' });
  for (const h of ring.hosts) {
    // anything with chain's temp prefix seen outside .chain/ would be a torn/temp file visible to users
    // (but `chain check` proves the root itself writable with a whole probe file renamed into it)
    subs.push(
      await watcher.subscribe(h.root, (_e, evs) => {
        for (const ev of evs) if (!ev.path.includes('/.chain/') && /\.chain-tmp-(?!check-)/.test(ev.path)) leaked.push(ev.path);
      }),
    );
  }
});

after(async () => {
  for (const d of daemons) await d.stop('SIGKILL').catch(() => {});
  for (const s of subs) await s.unsubscribe();
  await ring?.stop();
});

test('chain check passes on a healthy ring, with --json', { timeout: 60_000 }, async () => {
  const r = await chain(['--config', cfg, 'check']);
  assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /all hosts ok/);
  const j = await chain(['--config', cfg, 'check', '--json']);
  assert.equal(j.exitCode, 0);
  const parsed = JSON.parse(j.stdout);
  assert.equal(parsed.hosts.length, 3);
  for (const h of parsed.hosts) assert.equal(h.writable, 'ok');
});

test('a known_hosts with another key for a host makes check refuse', { timeout: 60_000 }, async () => {
  const bad = join(ring.dir, 'known_hosts.bad');
  const lines = readFileSync(ring.knownHosts, 'utf8').split('\n');
  // host2's entry carries host3's key
  lines[1] = lines[1].split(' ')[0] + ' ' + lines[2].split(' ').slice(1).join(' ');
  writeFileSync(bad, lines.join('\n'));
  const badCfg = ring.writeConfig({ interval: '500ms', ssh: { user: ring.user, identity: ring.clientKey, knownHosts: bad } }, join(ring.dir, 'bad.yaml'));
  const r = await chain(['--config', badCfg, 'check']);
  assert.equal(r.exitCode, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /host2/);
  assert.match(r.stdout, /SHA256:[A-Za-z0-9+/]{43}/);
  assert.match(r.stdout, /chain trust|ssh-keygen -R/);
});

test('watch replicates, converges and ends the loop', { timeout: 300_000 }, async () => {
  const [h1, h2, h3] = ring.hosts;
  for (const h of ring.hosts) {
    const d = spawnChain(['--config', cfg, '--host', h.name, 'watch']);
    daemons.push(d);
  }
  await Promise.all(daemons.map((d) => d.waitFor(/watching /)));
  for (const h of ring.hosts) h.resetOps();

  // 1. a burst on host1
  const r1 = h1.root;
  let files = 0;
  for (let i = 0; i < 200; i++) {
    const dir = join(r1, `burst/d${i % 10}/e${i % 3}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${i}.dat`), randomBytes(100 + i));
    files++;
  }
  writeFileSync(join(r1, 'big.bin'), randomBytes(20 * 1024 * 1024));
  files++;
  symlinkSync('burst/d1/e1/f1.dat', join(r1, 'link-to-f1'));
  mkdirSync(join(r1, 'empty-dir'));
  writeFileSync(join(r1, 'name with spaces.txt'), 'spaces\n');
  writeFileSync(join(r1, 'Übergröße – café 写真.txt'), 'non-ascii\n');
  writeFileSync(join(r1, 'secret.key'), 'private\n');
  chmodSync(join(r1, 'secret.key'), 0o600);
  files += 3;

  const roots = ring.hosts.map((h) => h.root);
  await until(() => ringDiff(roots).length === 0 && snapshot(r1).size > 200, 120_000, () => `convergence:\n${ringDiff(roots).slice(0, 10).join('\n')}`);
  const s3 = snapshot(h3.root);
  assert.equal(s3.get('secret.key')?.mode, '600');
  assert.equal(s3.get('link-to-f1')?.target, 'burst/d1/e1/f1.dat');
  assert.equal(s3.get('empty-dir')?.type, 'dir');
  assert.equal(s3.get('big.bin')?.size, 20 * 1024 * 1024);

  // each host is written once per change: every file or link lands by one rename from a temp name
  // (over SFTP, or by chain receive for small new files);
  // host2 and host3 got each exactly once, host1 (the origin) none — the loop ended by comparing
  const landed = (h: (typeof ring.hosts)[number]) => h.sftpOps().landed.filter((p) => !p.includes('/.chain/')).length;
  const expected = files + 1; // the files and the symlink
  await until(() => landed(h2) >= expected && landed(h3) >= expected, 20_000, 'sftp logs');
  // give the change time to finish its trip around the ring (host3 → host1 compares, must not write)
  await new Promise((r) => setTimeout(r, 2000));
  const w = ring.hosts.map(landed);
  assert.deepEqual(w, [0, expected, expected], `landed writes per host ${w} (expected ${expected})`);

  // 2. edit on host2, deletes on host3, move on host1
  appendFileSync(join(h2.root, 'name with spaces.txt'), 'edited on host2\n');
  const later = Date.now() / 1000 + 5;
  utimesSync(join(h2.root, 'name with spaces.txt'), later, later);
  rmSync(join(h3.root, 'burst/d2/e2/f2.dat'));
  rmSync(join(h3.root, 'burst/d3'), { recursive: true });
  renameSync(join(r1, 'big.bin'), join(r1, 'moved-big.bin'));
  await until(() => ringDiff(roots).length === 0 && snapshot(r1).has('moved-big.bin') && !snapshot(r1).has('burst/d3'), 120_000, () => `second convergence:\n${ringDiff(roots).slice(0, 10).join('\n')}`);
  for (const root of roots) {
    const s = snapshot(root);
    assert.ok(!s.has('big.bin') && s.get('moved-big.bin')?.size === 20 * 1024 * 1024, root);
    assert.ok(!s.has('burst/d2/e2/f2.dat') && !s.has('burst/d3'), root);
    assert.match(readFileSync(join(root, 'name with spaces.txt'), 'utf8'), /edited on host2/);
  }
  assert.deepEqual(leaked, [], 'temp names visible outside .chain/');

  // 3. a tree copied in with cp -a: cp makes each directory 0700 while it fills it and chmods it
  // after, so pushers may read it in between; the chmod must win everywhere, on host1 too
  const staging = join(ring.dir, 'import-staging');
  for (let i = 0; i < 30; i++) {
    const dir = join(staging, `y${i % 3}/m${i}`);
    mkdirSync(dir, { recursive: true });
    for (let j = 0; j < 60; j++) writeFileSync(join(dir, `p${j}.jpg`), `photo ${i}/${j}`);
  }
  chmodSync(staging, 0o755);
  execFileSync('cp', ['-a', staging, join(r1, 'imported')]);
  const dirModes = (root: string) => [...snapshot(root)].filter(([p, e]) => p.startsWith('imported') && e.type === 'dir').map(([p, e]) => `${p} ${e.mode}`);
  await until(() => ringDiff(roots).length === 0 && [...snapshot(h3.root).keys()].filter((p) => p.startsWith('imported/')).length === 30 * 60 + 33, 120_000, () => `imported tree:\n${ringDiff(roots).slice(0, 10).join('\n')}`);
  for (const root of roots) assert.deepEqual(dirModes(root).filter((l) => !l.endsWith(' 755')), [], `directory modes on ${root}`);
  // a directory closed down on host2 is closed down everywhere (a lower mode, carried as host2's change)
  chmodSync(join(h2.root, 'imported/y0'), 0o750);
  await until(() => roots.every((root) => snapshot(root).get('imported/y0')?.mode === '750'), 60_000, () => `chmod 750 from host2: ${roots.map((r) => snapshot(r).get('imported/y0')?.mode)}`);

  // 4. SIGTERM: each daemon exits 0
  const codes = await Promise.all(daemons.splice(0).map((d) => d.stop('SIGTERM')));
  assert.deepEqual(codes, [0, 0, 0]);
});
