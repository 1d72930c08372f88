// SftpRemote against a real OpenSSH sshd on loopback. The host's root is a local directory, so
// results are checked with node:fs directly, and SFTP operations are counted from the sshd log.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdirSync,
  writeFileSync,
  readFileSync,
  readdirSync,
  existsSync,
  lstatSync,
  statSync,
  readlinkSync,
  symlinkSync,
  utimesSync,
  chmodSync,
  rmSync,
  appendFileSync,
} from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { startHosts, type Ring, type TestHost } from '../support/sshd.js';
import { connect } from '../../src/transport/ssh.js';
import { openSftpRemote, SftpRemote, SftpError } from '../../src/transport/sftp.js';
import { SourceChangedError, type PutSource } from '../../src/transport/remote.js';
import { UnsafePathError } from '../../src/core/paths.js';
import { BESIDE_TEMP_PREFIX } from '../../src/core/names.js';
import type { Entry } from '../../src/core/types.js';
import { classify } from '../../src/core/classify.js';

let ring: Ring;
let h: TestHost;
let remote: SftpRemote;
let local: string; // the pusher's side: files put() reads
let outside: string; // a directory outside every root; must never be written

async function open(opts: { maxFiles?: number } = {}): Promise<SftpRemote> {
  const session = await connect({
    name: h.name,
    address: h.address,
    port: h.port,
    user: ring.user,
    identity: ring.clientKey,
    knownHosts: ring.knownHosts,
    connectTimeoutMs: 5000,
  });
  return openSftpRemote(session, h.name, h.root, opts);
}

/** what the planner would have seen of a local file */
function entryOf(path: string): Entry {
  const st = lstatSync(path);
  return { type: 'file', size: st.size, mtime: Math.floor(st.mtimeMs / 1000), mode: st.mode & 0o7777 };
}

function localFile(rel: string, data: string | Buffer, mode = 0o644, mtime = 1_600_000_000): { src: PutSource; opts: { mode: number; mtime: number } } {
  const p = join(local, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, data);
  chmodSync(p, mode);
  utimesSync(p, mtime, mtime);
  return { src: { localPath: p, expect: entryOf(p) }, opts: { mode, mtime } };
}

/** every temp name anywhere under the root (outside .chain/tmp too) */
function tempsLeft(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (name.startsWith(BESIDE_TEMP_PREFIX)) found.push(p);
      if (lstatSync(p).isDirectory()) walk(p);
    }
  };
  walk(h.root);
  return found;
}

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('SftpRemote', { timeout: 300_000 }, () => {
  before(async () => {
    ring = await startHosts(1);
    h = ring.hosts[0];
    local = join(ring.dir, 'local');
    outside = join(ring.dir, 'outside');
    mkdirSync(local);
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep.txt'), 'outside\n');
    remote = await open();
  });
  after(async () => {
    await remote?.close();
    await ring?.stop();
  });

  test('put keeps content, mode 0600 and mtime, and leaves no temp file', async () => {
    const { src, opts } = localFile('a/secret.txt', 'hello\n', 0o600, 1_500_000_000);
    h.resetOps();
    await remote.put('a/secret.txt', src, opts);
    const p = join(h.root, 'a/secret.txt');
    assert.equal(readFileSync(p, 'utf8'), 'hello\n');
    assert.equal(statSync(p).mode & 0o7777, 0o600);
    assert.equal(Math.floor(statSync(p).mtimeMs / 1000), 1_500_000_000);
    assert.deepEqual(await remote.lstat('a/secret.txt'), { type: 'file', size: 6, mtime: 1_500_000_000, mode: 0o600 });
    assert.deepEqual(tempsLeft(), []);
    assert.deepEqual(readdirSync(join(h.root, '.chain/tmp')), []);
    const ops = h.sftpOps();
    assert.equal(ops.writes, 1);
    assert.equal(ops.renames, 1);
    assert.ok(ops.ops.some((o) => o.op === 'rename' && o.to === p && o.path.includes('/.chain/tmp/')), 'written under .chain/tmp, renamed over the target');
  });

  test('put replaces an existing file and an existing symlink (not what it points to)', async () => {
    writeFileSync(join(h.root, 'replace-me'), 'old');
    symlinkSync(join(outside, 'keep.txt'), join(h.root, 'link-to-outside'));
    const a = localFile('replace-me', 'new');
    const b = localFile('link-to-outside', 'now a file');
    await remote.put('replace-me', a.src, a.opts);
    await remote.put('link-to-outside', b.src, b.opts);
    assert.equal(readFileSync(join(h.root, 'replace-me'), 'utf8'), 'new');
    assert.equal(lstatSync(join(h.root, 'link-to-outside')).isFile(), true);
    assert.equal(readFileSync(join(outside, 'keep.txt'), 'utf8'), 'outside\n');
  });

  test('an empty file', async () => {
    const { src, opts } = localFile('empty', '');
    await remote.put('empty', src, opts);
    assert.equal(statSync(join(h.root, 'empty')).size, 0);
  });

  test('2,000 small files put concurrently', async () => {
    const n = 2000;
    const files = Array.from({ length: n }, (_, i) => {
      const rel = `many/d${i % 20}/f${i}.jpg`;
      return { rel, ...localFile(rel, randomBytes(1000 + (i % 50) * 40), 0o644, 1_600_000_000 + i) };
    });
    h.resetOps();
    const t0 = performance.now();
    await Promise.all(files.map((f) => remote.put(f.rel, f.src, f.opts)));
    const secs = (performance.now() - t0) / 1000;
    console.log(`# put ${n} small files in ${secs.toFixed(2)} s = ${Math.round(n / secs)} files/s`);
    for (const f of files.filter((_, i) => i % 97 === 0)) {
      assert.ok(readFileSync(join(h.root, f.rel)).equals(readFileSync(f.src.localPath)));
      assert.equal(Math.floor(statSync(join(h.root, f.rel)).mtimeMs / 1000), f.opts.mtime);
    }
    assert.equal(readdirSync(join(h.root, 'many')).length, 20);
    const ops = h.sftpOps();
    assert.equal(ops.writes, n);
    assert.equal(ops.mkdirs, 21, 'each directory created once, despite 2,000 concurrent puts');
    assert.deepEqual(tempsLeft(), []);
    assert.ok(secs < 30, `too slow: ${secs} s`);
  });

  test('a 20 MB file streams and arrives intact', async () => {
    const data = randomBytes(20 * 1024 * 1024);
    const { src, opts } = localFile('big/video.bin', data, 0o640, 1_650_000_000);
    const t0 = performance.now();
    await remote.put('big/video.bin', src, opts);
    const secs = (performance.now() - t0) / 1000;
    console.log(`# put 20 MB in ${secs.toFixed(2)} s = ${(20 / secs).toFixed(1)} MB/s`);
    const got = readFileSync(join(h.root, 'big/video.bin'));
    assert.equal(sha(got), sha(data));
    assert.equal(statSync(join(h.root, 'big/video.bin')).mode & 0o7777, 0o640);
    assert.equal(Math.floor(statSync(join(h.root, 'big/video.bin')).mtimeMs / 1000), 1_650_000_000);
  });

  test('symlink creates and atomically replaces links; lstat and readdir report the target', async () => {
    await remote.symlink('links/l1', '../a/secret.txt');
    assert.equal(readlinkSync(join(h.root, 'links/l1')), '../a/secret.txt');
    writeFileSync(join(h.root, 'links/was-file'), 'x');
    await remote.symlink('links/was-file', '/etc/hostname');
    assert.equal(readlinkSync(join(h.root, 'links/was-file')), '/etc/hostname');
    await remote.symlink('links/l1', 'elsewhere');
    assert.equal(readlinkSync(join(h.root, 'links/l1')), 'elsewhere');
    const e = await remote.lstat('links/l1');
    assert.equal(e?.type, 'symlink');
    assert.equal(e?.target, 'elsewhere');
    const list = await remote.readdir('links');
    assert.deepEqual(
      list.map((d) => [d.name, d.entry.type, d.entry.target]).sort(),
      [
        ['l1', 'symlink', 'elsewhere'],
        ['was-file', 'symlink', '/etc/hostname'],
      ],
    );
    assert.deepEqual(tempsLeft(), []);
  });

  test('rename moves files and directories, replacing the destination', async () => {
    const a = localFile('mv/a', 'A');
    const b = localFile('mv/b', 'B');
    await remote.put('mv/a', a.src, a.opts);
    await remote.put('mv/b', b.src, b.opts);
    await remote.rename('mv/a', 'mv/b');
    assert.equal(readFileSync(join(h.root, 'mv/b'), 'utf8'), 'A');
    assert.equal(existsSync(join(h.root, 'mv/a')), false);
    await remote.mkdirp('mv/dir/sub');
    await remote.rename('mv/dir', 'mv/moved/dir');
    assert.equal(statSync(join(h.root, 'mv/moved/dir/sub')).isDirectory(), true);
    // the old directory is gone from the guard's cache too: writing there recreates it
    const c = localFile('mv/dir/sub/c', 'C');
    await remote.put('mv/dir/sub/c', c.src, c.opts);
    assert.equal(readFileSync(join(h.root, 'mv/dir/sub/c'), 'utf8'), 'C');
  });

  test('remove deletes files, links and whole trees without following links', async () => {
    const t = join(h.root, 'tree');
    for (let i = 0; i < 5; i++) {
      mkdirSync(join(t, `d${i}/e`), { recursive: true });
      for (let j = 0; j < 20; j++) writeFileSync(join(t, `d${i}/e/f${j}`), 'x');
    }
    symlinkSync(outside, join(t, 'd0/link-to-outside-dir'));
    await remote.remove('tree');
    assert.equal(existsSync(t), false);
    assert.equal(readFileSync(join(outside, 'keep.txt'), 'utf8'), 'outside\n');
    await remote.remove('tree'); // missing: no-op
    writeFileSync(join(h.root, 'one'), '1');
    await remote.remove('one');
    assert.equal(existsSync(join(h.root, 'one')), false);
    await remote.symlink('ln', 'one');
    await remote.remove('ln');
    assert.equal(existsSync(join(h.root, 'ln')), false);
  });

  test('mkdirp creates parents, sets the mode, and refuses symlinks and files in the way', async () => {
    await remote.mkdirp('m/a/b/c', 0o750);
    assert.equal(statSync(join(h.root, 'm/a/b/c')).mode & 0o7777, 0o750);
    await remote.mkdirp('m/a/b/c'); // exists: fine
    writeFileSync(join(h.root, 'm/file'), 'f');
    await assert.rejects(remote.mkdirp('m/file/sub'), (e: unknown) => e instanceof SftpError && e.kind === 'symlink-in-path');
    symlinkSync(outside, join(h.root, 'm/link'));
    await assert.rejects(remote.mkdirp('m/link/sub'), (e: unknown) => e instanceof SftpError && e.kind === 'symlink-in-path');
    assert.equal(existsSync(join(outside, 'sub')), false);
  });

  test('readdir lists lstat entries; missing is []; lstat missing is null', async () => {
    mkdirSync(join(h.root, 'ls/sub'), { recursive: true });
    writeFileSync(join(h.root, 'ls/f'), '12345');
    utimesSync(join(h.root, 'ls/f'), 1_234_567_890, 1_234_567_890);
    symlinkSync('f', join(h.root, 'ls/l'));
    const got = Object.fromEntries((await remote.readdir('ls')).map((d) => [d.name, d.entry]));
    assert.deepEqual(Object.keys(got).sort(), ['f', 'l', 'sub']);
    assert.deepEqual(got.f, { type: 'file', size: 5, mtime: 1_234_567_890, mode: statSync(join(h.root, 'ls/f')).mode & 0o7777 });
    assert.equal(got.l.type, 'symlink');
    assert.equal(got.l.target, 'f');
    assert.equal(got.sub.type, 'dir');
    assert.deepEqual(await remote.readdir('no/such/dir'), []);
    assert.equal(await remote.lstat('no/such/file'), null);
    assert.equal((await remote.lstat(''))?.type, 'dir');
    await assert.rejects(remote.readdir('ls/f'), (e: unknown) => e instanceof SftpError && e.kind === 'not-a-directory');
  });

  test('readdir of a big directory (many READDIRs in flight) lists every entry exactly once', async () => {
    mkdirSync(join(h.root, 'wide'), { recursive: true });
    const names = Array.from({ length: 2500 }, (_, i) => `entry-${String(i).padStart(5, '0')}-${'x'.repeat(i % 40)}`);
    for (const n of names) writeFileSync(join(h.root, 'wide', n), '');
    const got = (await remote.readdir('wide')).map((d) => d.name);
    const extra = got.filter((n, i) => got.indexOf(n) !== i || !names.includes(n));
    assert.deepEqual(extra, []);
    assert.equal(got.length, names.length);
    assert.deepEqual([...got].sort(), [...names].sort());
  });

  test('lstatMany answers like lstat, listing a directory that holds many of the paths', async () => {
    mkdirSync(join(h.root, 'many/sub'), { recursive: true });
    for (let i = 0; i < 20; i++) writeFileSync(join(h.root, `many/f${i}`), 'x'.repeat(i));
    symlinkSync('f3', join(h.root, 'many/link'));
    writeFileSync(join(h.root, 'many/sub/one'), '1');
    writeFileSync(join(h.root, 'many-file'), 'not a dir');
    const paths = [
      ...Array.from({ length: 20 }, (_, i) => `many/f${i}`),
      'many/link',
      'many/sub',
      'many/absent-1',
      'many/absent-2',
      'many/sub/one',
      'many/sub/absent',
      'gone-dir/a',
      ...Array.from({ length: 9 }, (_, i) => `many-file/x${i}`),
      '',
    ];
    h.resetOps();
    const many = await remote.lstatMany(paths);
    const opendirs = h.sftpOps().ops.filter((o) => o.op === 'opendir').map((o) => o.path);
    const one = await Promise.all(paths.map((p) => remote.lstat(p)));
    assert.deepEqual(many, one);
    assert.equal(many[20]?.target, 'f3');
    assert.equal(many[22], null);
    assert.deepEqual(opendirs, [join(h.root, 'many')], 'the directory with many paths is listed once; the one with two is not');
  });

  test('setattr sets mode and mtime, and never follows a symlink', async () => {
    writeFileSync(join(h.root, 'attr'), 'a');
    await remote.setattr('attr', { mode: 0o604, mtime: 1_300_000_000 });
    assert.equal(statSync(join(h.root, 'attr')).mode & 0o7777, 0o604);
    assert.equal(Math.floor(statSync(join(h.root, 'attr')).mtimeMs / 1000), 1_300_000_000);
    await remote.setattr('attr', { mtime: 1_300_000_001 });
    assert.equal(statSync(join(h.root, 'attr')).mode & 0o7777, 0o604);
    const before = statSync(join(outside, 'keep.txt'));
    symlinkSync(join(outside, 'keep.txt'), join(h.root, 'attr-link'));
    await remote.setattr('attr-link', { mode: 0o777, mtime: 1_000_000_000 });
    const afterSt = statSync(join(outside, 'keep.txt'));
    assert.equal(afterSt.mode, before.mode);
    assert.equal(afterSt.mtimeMs, before.mtimeMs);
    await remote.mkdirp('attr-dir');
    await remote.setattr('attr-dir', { mode: 0o711 });
    assert.equal(statSync(join(h.root, 'attr-dir')).mode & 0o7777, 0o711);
    await assert.rejects(remote.setattr('attr-missing', { mode: 0o600 }), (e: unknown) => e instanceof SftpError && e.kind === 'no-such-file');
  });

  test('paths with "..", absolute paths and NUL are refused before anything is sent', async () => {
    const { src, opts } = localFile('dots', 'x');
    h.resetOps();
    for (const bad of ['../escape', 'a/../../escape', '/etc/passwd', 'a\0b', 'a//b', './a']) {
      await assert.rejects(remote.put(bad, src, opts), UnsafePathError, bad);
      await assert.rejects(remote.lstat(bad), UnsafePathError, bad);
      await assert.rejects(remote.remove(bad), UnsafePathError, bad);
      await assert.rejects(remote.mkdirp(bad), UnsafePathError, bad);
      await assert.rejects(remote.symlink(bad, 'x'), UnsafePathError, bad);
      await assert.rejects(remote.rename('dots', bad), UnsafePathError, bad);
    }
    await assert.rejects(remote.remove(''), SftpError, 'the root itself is never removed');
    assert.equal(h.sftpOps().ops.length, 0, 'nothing reached the server');
  });

  test('a symlinked directory pointing outside the root is never written through', async () => {
    symlinkSync(outside, join(h.root, 'evil'));
    const { src, opts } = localFile('evil-src', 'payload');
    const refused = (e: unknown) => e instanceof SftpError && e.kind === 'symlink-in-path' && e.message.includes('evil');
    await assert.rejects(remote.put('evil/x', src, opts), refused);
    await assert.rejects(remote.put('evil/deeper/x', src, opts), refused);
    await assert.rejects(remote.writeSmall('evil/x', 'payload'), refused);
    await assert.rejects(remote.symlink('evil/l', '/etc'), refused);
    await assert.rejects(remote.mkdirp('evil/sub'), refused);
    await assert.rejects(remote.rename('dots', 'evil/x'), refused);
    await assert.rejects(remote.rename('evil/keep.txt', 'stolen'), refused);
    await assert.rejects(remote.setattr('evil/keep.txt', { mode: 0o777 }), refused);
    await remote.remove('evil/keep.txt'); // not in the tree: a no-op, not a delete outside
    assert.equal(await remote.lstat('evil/keep.txt'), null);
    assert.deepEqual(await remote.readdir('evil/'.slice(0, -1) + '/sub'), []);
    assert.deepEqual(readdirSync(outside), ['keep.txt']);
    assert.equal(readFileSync(join(outside, 'keep.txt'), 'utf8'), 'outside\n');
    assert.equal(statSync(join(outside, 'keep.txt')).mode & 0o777, 0o644);
    // the link itself is an ordinary entry of the tree
    assert.equal((await remote.lstat('evil'))?.type, 'symlink');
  });

  test('a directory swapped for a symlink after it was verified is caught once the cache expires or is invalidated', async () => {
    await remote.mkdirp('swap');
    const a = localFile('swap/a', 'A');
    await remote.put('swap/a', a.src, a.opts);
    await remote.remove('swap'); // through the Remote: the guard forgets it
    symlinkSync(outside, join(h.root, 'swap'));
    await assert.rejects(remote.put('swap/a', a.src, a.opts), (e: unknown) => e instanceof SftpError && e.kind === 'symlink-in-path');
    assert.deepEqual(readdirSync(outside), ['keep.txt']);
  });

  test('SourceChangedError when the local file changed between plan and send; nothing is left', async () => {
    const { src, opts } = localFile('changing', 'version 1');
    writeFileSync(src.localPath, 'version 2, longer');
    h.resetOps();
    await assert.rejects(remote.put('changing', src, opts), SourceChangedError);
    assert.equal(existsSync(join(h.root, 'changing')), false);
    assert.equal(h.sftpOps().writes, 0, 'a small file is checked before anything is sent');

    // a file that became a symlink is not followed
    const l = localFile('became-link', 'x');
    rmSync(l.src.localPath);
    symlinkSync('/etc/passwd', l.src.localPath);
    await assert.rejects(remote.put('became-link', l.src, l.opts), SourceChangedError);

    // gone altogether
    const g = localFile('gone', 'x');
    rmSync(g.src.localPath);
    await assert.rejects(remote.put('gone', g.src, g.opts), SourceChangedError);
    assert.deepEqual(tempsLeft(), []);
  });

  test('SourceChangedError when a large file changes while it is being sent', async () => {
    const { src, opts } = localFile('growing.bin', randomBytes(8 * 1024 * 1024));
    const sending = remote.put('growing.bin', src, opts);
    // grow it while the put is under way; the final fstat catches it whenever it lands
    appendFileSync(src.localPath, 'more');
    await assert.rejects(sending, SourceChangedError);
    assert.equal(existsSync(join(h.root, 'growing.bin')), false);
    assert.deepEqual(readdirSync(join(h.root, '.chain/tmp')), []);
    assert.deepEqual(tempsLeft(), []);
  });

  test('a failed put leaves no temp file and no partial target', async () => {
    mkdirSync(join(h.root, 'in-the-way/dir'), { recursive: true });
    const { src, opts } = localFile('in-the-way/dir', 'file where a dir is');
    await assert.rejects(remote.put('in-the-way/dir', src, opts), (e: unknown) => e instanceof SftpError && /directory is in the way/.test(e.message));
    assert.equal(statSync(join(h.root, 'in-the-way/dir')).isDirectory(), true);
    assert.deepEqual(readdirSync(join(h.root, '.chain/tmp')), []);
    assert.deepEqual(tempsLeft(), []);
  });

  test('directories removed behind the cache are made again, not reported as failures', async () => {
    const a = localFile('vanish/sub/a', 'A');
    await remote.put('vanish/sub/a', a.src, a.opts);
    rmSync(join(h.root, 'vanish'), { recursive: true }); // an admin on the host, not through chain
    rmSync(join(h.root, '.chain/tmp'), { recursive: true });
    await remote.put('vanish/sub/a', a.src, a.opts);
    assert.equal(readFileSync(join(h.root, 'vanish/sub/a'), 'utf8'), 'A');
    assert.deepEqual(tempsLeft(), []);
  });

  test('errors carry the verdict the engine acts on: one path, or the whole link', async () => {
    symlinkSync(outside, join(h.root, 'verdict-link'));
    const { src, opts } = localFile('verdict', 'v');
    const pathErr = await remote.put('verdict-link/x', src, opts).catch((e: unknown) => e);
    assert.ok(pathErr instanceof SftpError);
    assert.equal(pathErr.verdict, 'path');
    assert.equal(classify(pathErr), 'path', 'a symlink in one path must not stop the link');
    const missing = await remote.setattr('verdict-missing', { mode: 0o600 }).catch((e: unknown) => e);
    assert.equal(classify(missing), 'path');
    // a root that is gone (an unmounted disk) stops the link until it is back, and loses nothing
    const session = await connect({ name: h.name, address: h.address, port: h.port, user: ring.user, identity: ring.clientKey, knownHosts: ring.knownHosts, connectTimeoutMs: 5000 });
    const noRoot = await openSftpRemote(session, h.name, join(ring.dir, 'no-such-root'));
    try {
      assert.equal(await noRoot.lstat(''), null);
      assert.equal(await noRoot.lstat('a/b'), null);
      assert.deepEqual(await noRoot.readdir(''), []);
      const rootErr = await noRoot.put('a/b', src, opts).catch((e: unknown) => e);
      assert.ok(rootErr instanceof SftpError && rootErr.kind === 'root-missing', String(rootErr));
      assert.equal(classify(rootErr), 'again');
      assert.equal(existsSync(join(ring.dir, 'no-such-root')), false, 'a root is never created');
    } finally {
      await noRoot.close();
    }
  });

  test('writeSmall and readSmall', async () => {
    await remote.writeSmall('.chain/inbox/m1.json', '{"a":1}');
    assert.equal((await remote.readSmall('.chain/inbox/m1.json'))?.toString(), '{"a":1}');
    const big = randomBytes(300 * 1024);
    await remote.writeSmall('.chain/inbox/big', big);
    assert.ok((await remote.readSmall('.chain/inbox/big'))?.equals(big));
    assert.equal(await remote.readSmall('.chain/inbox/none'), null);
    assert.deepEqual(tempsLeft(), []);
  });

  test('writeSmall goes ahead of file copies waiting for a slot (a manifest is not held up by the batch it announces)', async () => {
    const r = await open({ maxFiles: 2 });
    try {
      const files = Array.from({ length: 40 }, (_, i) => ({ rel: `queued/f${i}`, ...localFile(`queued/f${i}`, randomBytes(2000)) }));
      // the directories are known first, so every put goes straight to the queue for a file slot
      await r.put(files[0]!.rel, files[0]!.src, files[0]!.opts);
      await r.writeSmall('.chain/inbox/first.json', '{}');
      const done: string[] = [];
      const puts = files.map((f) => r.put(f.rel, f.src, f.opts).then(() => void done.push(f.rel)));
      for (let i = 0; i < 3; i++) await new Promise((res) => setImmediate(res));
      const small = r.writeSmall('.chain/inbox/urgent.json', '{}').then(() => void done.push('manifest'));
      await Promise.all([...puts, small]);
      // two copies run when it comes, 38 wait: first in line, it lands among the first few
      assert.ok(done.indexOf('manifest') < 10, `the manifest landed after ${done.indexOf('manifest')} of 40 copies`);
      assert.equal(readFileSync(join(h.root, '.chain/inbox/urgent.json'), 'utf8'), '{}');
      assert.deepEqual(tempsLeft(), []);
    } finally {
      await r.close();
    }
  });

  test('hundreds of mixed concurrent calls', async () => {
    const jobs: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      const rel = `mixed/d${i % 7}/f${i}`;
      const f = localFile(rel, `content ${i}`);
      jobs.push(remote.put(rel, f.src, f.opts));
      jobs.push(remote.lstat(`mixed/d${i % 7}`));
      jobs.push(remote.readdir('mixed'));
      jobs.push(remote.mkdirp(`mixed/d${i % 7}/sub${i % 3}`));
    }
    await Promise.all(jobs);
    const names = (await remote.readdir('mixed/d0')).map((d) => d.name);
    assert.equal(names.filter((n) => n.startsWith('f')).length, 43);
  });

  test('a put through a mount point falls back to a temp name beside the target', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to mount');
    const mnt = join(h.root, 'mnt');
    mkdirSync(mnt);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'chain-test', mnt], { stdio: 'ignore' });
    } catch {
      return t.skip('cannot mount tmpfs here');
    }
    try {
      const { src, opts } = localFile('mnt/x', 'across filesystems');
      h.resetOps();
      await remote.put('mnt/x', src, opts);
      assert.equal(readFileSync(join(mnt, 'x'), 'utf8'), 'across filesystems');
      const renames = h.sftpOps().ops.filter((o) => o.op === 'rename');
      assert.equal(renames.length, 2, 'one failed rename from .chain/tmp, one from beside');
      assert.ok(renames[1].path.startsWith(join(mnt, BESIDE_TEMP_PREFIX)));
      // the directory is remembered: the next put goes beside at once
      const y = localFile('mnt/y', 'y');
      h.resetOps();
      await remote.put('mnt/y', y.src, y.opts);
      assert.equal(h.sftpOps().renames, 1);
      assert.deepEqual(tempsLeft(), []);
      assert.deepEqual(readdirSync(join(h.root, '.chain/tmp')), []);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  test('a dropped connection fails calls with a retryable error instead of hanging', async () => {
    const r = await open();
    const files = Array.from({ length: 200 }, (_, i) => ({ rel: `drop/f${i}`, ...localFile(`drop/f${i}`, randomBytes(4000)) }));
    const puts = files.map((f) => r.put(f.rel, f.src, f.opts).then(
      () => 'ok',
      (e: unknown) => e,
    ));
    await h.kill();
    const results = await Promise.all(puts);
    for (const res of results) if (res !== 'ok') assert.ok(res instanceof SftpError && res.verdict === 'again' && classify(res) === 'again', String(res));
    await assert.rejects(r.lstat('drop'), (e: unknown) => e instanceof SftpError && e.kind === 'connection-lost' && classify(e) === 'again');
    await r.close();
    await h.restart();
    remote = await (async () => {
      await remote.close().catch(() => {});
      return open();
    })();
    assert.equal((await remote.lstat(''))?.type, 'dir');
  });
});
