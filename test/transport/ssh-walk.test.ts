// The one-pass listing of a remote root by find over the SSH session (ssh-walk.ts), against real
// OpenSSH sshd on loopback: it must list exactly what READDIR over SFTP lists (names with spaces,
// quotes and newlines, symlinks not followed, .chain/ left out), and a host that runs no commands
// for us (ForceCommand internal-sftp) must answer false, so the repair lists it over SFTP instead.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, symlinkSync, utimesSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startHosts, type Ring, type TestHost } from '../support/sshd.js';
import { connect, type SshSession } from '../../src/transport/ssh.js';
import { openSftpRemote } from '../../src/transport/sftp.js';
import { SshWalk, sshWalk, shellQuote, walkCommand } from '../../src/transport/ssh-walk.js';
import { Listings } from '../../src/core/listings.js';
import { listHost } from '../../src/engine/listing.js';
import { compileExclude } from '../../src/core/exclude.js';
import type { Entry } from '../../src/core/types.js';

let ring: Ring;
let sftpOnly: Ring;

before(async () => {
  [ring, sftpOnly] = await Promise.all([startHosts(1), startHosts(1, { sshdConfig: ['ForceCommand internal-sftp'], prefix: 'sftponly' })]);
  for (const h of [ring.hosts[0]!, sftpOnly.hosts[0]!]) fill(h.root);
});

after(async () => {
  await Promise.all([ring?.stop(), sftpOnly?.stop()]);
});

const T = 1_700_000_000;
function fill(root: string): void {
  const files = ['a.txt', 'd/b.bin', 'd/e/c', "d/it's here", 'd/two  spaces', 'd/new\nline', 'd/ünï', 'x/$(touch pwned)', '.chain-tmp-half']; // (the last: a temp name, never replicated)
  for (const rel of files) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), rel);
    utimesSync(join(root, rel), T, T);
  }
  mkdirSync(join(root, 'empty'));
  mkdirSync(join(root, '.chain', 'tmp'), { recursive: true });
  writeFileSync(join(root, '.chain', 'lock'), 'x');
  symlinkSync('d', join(root, 'link-to-dir')); // never followed
  symlinkSync('/etc/passwd', join(root, 'd', 'abs-link'));
}

/** fn with an SSH session to r's first host, closed afterwards */
async function withSession<T>(r: Ring, fn: (s: SshSession, h: TestHost) => Promise<T>): Promise<T> {
  const h = r.hosts[0]!;
  const s = await connect({ name: h.name, address: h.address, port: h.port, user: r.user, identity: r.clientKey, knownHosts: r.knownHosts, connectTimeoutMs: 5000 });
  try {
    return await fn(s, h);
  } finally {
    await s.close();
  }
}

/** rel → entry, as listed into a Listings table by listHost (the repair's way) */
async function listed(h: TestHost, s: SshSession, viaFind: boolean): Promise<Map<string, Entry>> {
  const remote = await openSftpRemote(s, h.name, h.root, { closeSession: false, walk: viaFind });
  const l = new Listings([h.name]);
  await listHost(remote, l, 0, { exclude: compileExclude([]) });
  const out = new Map<string, Entry>();
  for (let r = 0; r < l.rows; r++) {
    const e = l.get(0, r);
    if (e) out.set(l.path(r), e);
  }
  return out;
}

const quoting: [string, string][] = [
  ['plain', `'plain'`],
  ["it's", `'it'\\''s'`],
  ['$(rm -rf /)', `'$(rm -rf /)'`],
  ['a b\nc', `'a b\nc'`],
  ['', `''`],
];
for (const [s, want] of quoting) test(`shellQuote(${JSON.stringify(s)})`, () => assert.equal(shellQuote(s), want));

test('the command prints the marker, waits for our line, then runs find on the root with .chain pruned', () => {
  assert.equal(walkCommand("/srv/it's"), `echo 'chain-walk 1' && read -r go && exec find '/srv/it'\\''s/' '-mindepth' '1' '(' '-path' '/srv/it'\\''s/.chain' '-prune' ')' '-o' '-printf' '%y %d %s %T@ %m\\0%P\\0%l\\0'`);
});

test('find over SSH lists exactly what READDIR over SFTP lists', () =>
  withSession(ring, async (s, h) => {
    const a = await listed(h, s, true);
    const b = await listed(h, s, false);
    assert.deepEqual(a, b);
    assert.ok(a.has("d/it's here") && a.has('d/new\nline') && a.has('x/$(touch pwned)') && a.has('empty'));
    assert.deepEqual(a.get('link-to-dir'), { type: 'symlink', size: 1, mtime: a.get('link-to-dir')!.mtime, mode: a.get('link-to-dir')!.mode, target: 'd' });
    assert.ok(![...a.keys()].some((p) => p.startsWith('link-to-dir/')), 'a symlinked directory is not followed');
    assert.ok(![...a.keys()].some((p) => p === '.chain' || p.startsWith('.chain/')), '.chain/ is left out');
    assert.equal(a.get('d/b.bin')!.mtime, T);
  }));

test('the walk itself reports every entry once, parents first', () =>
  withSession(ring, async (s, h) => {
    const seen: string[] = [];
    assert.equal(await sshWalk(s.client, h.name, h.root, (rel) => seen.push(rel)), true);
    assert.equal(new Set(seen).size, seen.length);
    for (const [i, p] of seen.entries()) if (p.includes('/')) assert.ok(seen.indexOf(p.slice(0, p.lastIndexOf('/'))) < i, `${p} after its directory`);
  }));

test('find runs when the walk is run, not when its command starts (the repair starts it before taking the lock)', () =>
  withSession(ring, async (s, h) => {
    try {
      const w = new SshWalk(s.client, h.name, h.root);
      await new Promise((r) => setTimeout(r, 500)); // (time for the host to start the command)
      writeFileSync(join(h.root, 'late'), 'x');
      const seen: string[] = [];
      assert.equal(await w.run((rel) => seen.push(rel)), true);
      assert.ok(seen.includes('late'));
      // a walk never run is ended with the session, having listed nothing
      new SshWalk(s.client, h.name, h.root).cancel();
    } finally {
      rmSync(join(h.root, 'late'));
    }
  }));

test('a root find cannot read fails the walk instead of looking empty', () =>
  withSession(ring, async (s, h) => {
    await assert.rejects(
      sshWalk(s.client, h.name, join(h.root, 'no-such-dir'), () => {}),
      (err: NodeJS.ErrnoException) => err.code === 'EIO' && /cannot list everything/.test(err.message),
    );
  }));

test('a host that runs no commands for us (ForceCommand internal-sftp) answers false, and is listed over SFTP', () =>
  withSession(sftpOnly, async (s, h) => {
    let reported = 0;
    assert.equal(await sshWalk(s.client, h.name, h.root, () => reported++), false);
    // (also when the forced sftp-server has been waiting a while)
    const w = new SshWalk(s.client, h.name, h.root);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await w.run(() => reported++), false);
    assert.equal(reported, 0);
    // the repair's listing falls back to READDIR and sees the same tree the other host's find does
    const viaSftp = await listed(h, s, true);
    const viaFind = await withSession(ring, (s2, h2) => listed(h2, s2, true));
    assert.deepEqual([...viaSftp.keys()].sort(), [...viaFind.keys()].sort());
  }));
