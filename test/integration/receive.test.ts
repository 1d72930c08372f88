// `chain receive` on the next host: with `receiver` naming a chain that runs there, small new files
// travel as frames on an exec channel instead of SFTP requests, and the ring converges exactly as
// over SFTP. Where the receiver does not start, the push says why and sends everything over SFTP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startHosts, type Ring } from '../support/sshd.js';
import { BIN, chain, spawnChain } from '../support/chain.js';
import { ringForFile } from '../support/ring.js';
import { ringDiff, until } from '../support/tree.js';

let ring: Ring;
const watchers = ringForFile(3, (r) => (ring = r));

/** SFTP opens for writing logged by a host's sftp-server (-l INFO) */
function sftpWrites(h: Ring['hosts'][number]): number {
  return readFileSync(h.logFile, 'utf8').split('\n').filter((l) => /open ".*" flags WRITE/.test(l)).length;
}

/** the roots' trees agree, and no host has a temp file left */
async function converged(what: string): Promise<void> {
  await until(() => ringDiff(ring.hosts.map((h) => h.root)).length === 0, 120_000, () => `${what}: ${ringDiff(ring.hosts.map((h) => h.root)).slice(0, 5).join('; ')}`);
}

test('small files go through chain receive, the rest over SFTP; the ring converges', { timeout: 300_000 }, async () => {
  const cfg = ring.writeConfig({ interval: '300ms' });
  const [h1, h2, h3] = ring.hosts;
  const ds = ring.hosts.map((h) => watchers.add(spawnChain(['--config', cfg, '--host', h.name, '--verbose', 'watch'])));
  for (const d of ds) await d.waitFor(/watching/);
  const writesBefore = sftpWrites(h2);

  for (let d = 0; d < 4; d++) {
    mkdirSync(join(h1.root, `up/d${d}`), { recursive: true });
    for (let i = 0; i < 50; i++) writeFileSync(join(h1.root, `up/d${d}`, `f${i}.bin`), randomBytes(100 + i * 40));
  }
  writeFileSync(join(h1.root, 'big.bin'), randomBytes(300_000)); // over 64 KiB: SFTP
  writeFileSync(join(h1.root, 'name with space ünï.txt'), 'x');
  writeFileSync(join(h1.root, 'secret.txt'), 'only me');
  chmodSync(join(h1.root, 'secret.txt'), 0o600);
  writeFileSync(join(h1.root, 'empty'), '');
  symlinkSync('up/d0/f1.bin', join(h1.root, 'link'));
  await converged('the burst');
  // every daemon used the receiver of the next host
  for (const d of ds) await d.waitFor(/small files go to ".* receive"/);
  // 200+ small files reached host2 with far fewer SFTP writes (the big file, manifests, status)
  const writes = sftpWrites(h2) - writesBefore;
  assert.ok(writes < 60, `host2's sftp-server opened ${writes} files for writing for a burst of 204 small files`);
  assert.ok(h2.sftpOps().received >= 203, `host2's receiver wrote ${h2.sftpOps().received} files`);

  // edits, a replacement (SFTP: the old version is trashed first), deletes and a move converge too
  writeFileSync(join(h2.root, 'up/d1/f3.bin'), 'edited on host2');
  rmSync(join(h3.root, 'up/d2'), { recursive: true });
  writeFileSync(join(h1.root, 'up/d0/new.txt'), 'new on host1');
  await converged('the edits');
  assert.equal(readFileSync(join(h3.root, 'up/d1/f3.bin'), 'utf8'), 'edited on host2');
  for (const h of ring.hosts) assert.deepEqual(readdirSync(join(h.root, '.chain/tmp')), [], `${h.name}: no temp file left`);
  await watchers.killAll();
});

test('a host that cannot run the receiver gets everything over SFTP, and the log says why', { timeout: 300_000 }, async () => {
  const hosts = ring.hosts.map((h) => ({ name: h.name, address: h.address, port: h.port, root: h.root, state: h.state, receiver: '/nonexistent/chain' }));
  const cfg = ring.writeConfig({ interval: '300ms', hosts }, join(ring.dir, 'chain-norecv.yaml'));
  const before = ring.hosts.map((h) => h.sftpOps().received);
  const [h1] = ring.hosts;
  const ds = ring.hosts.map((h) => watchers.add(spawnChain(['--config', cfg, '--host', h.name, 'watch'])));
  for (const d of ds) await d.waitFor(/watching/);
  mkdirSync(join(h1.root, 'sftp-only'), { recursive: true });
  for (let i = 0; i < 30; i++) writeFileSync(join(h1.root, 'sftp-only', `g${i}`), `g ${i}`);
  await converged('over SFTP');
  await ds[0]!.waitFor(/host2: sending over SFTP only: "\/nonexistent\/chain receive" did not start there \(exit 127/);
  assert.deepEqual(ring.hosts.map((h) => h.sftpOps().received), before, 'nothing went through a receiver');
  await watchers.killAll();
});

test('chain check says which hosts run the receiver; one that does not fails no check', { timeout: 120_000 }, async () => {
  const ok = await chain(['--config', ring.writeConfig({}, join(ring.dir, 'check-ok.yaml')), 'check']);
  assert.equal(ok.exitCode, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /WRITABLE +RECEIVER$/m);
  for (const h of ring.hosts) assert.match(ok.stdout, new RegExp(`^${h.name} .* ok +ok$`, 'm'));
  const hosts = ring.hosts.map((h, i) => ({ name: h.name, address: h.address, port: h.port, root: h.root, state: h.state, receiver: i === 1 ? '/nonexistent/chain' : h.receiver }));
  const some = await chain(['--config', ring.writeConfig({ hosts }, join(ring.dir, 'check-some.yaml')), 'check', '--json']);
  assert.equal(some.exitCode, 0, some.stdout + some.stderr);
  const got = (JSON.parse(some.stdout) as { hosts: { host: string; receiver: string; receiverNote?: string }[] }).hosts;
  assert.deepEqual(got.map((h) => h.receiver), ['ok', 'fail', 'ok']);
  assert.match(got[1]!.receiverNote ?? '', /"\/nonexistent\/chain receive" did not start there \(exit 127.*; pushes to host2 send every file over SFTP .*set receiver to its path/);
});

test('a forced command that allows SFTP and the receiver only (docs/security.md) carries both', { timeout: 180_000 }, async () => {
  // the wrapper of docs/security.md, for any root of this test's hosts: the pusher asks for
  // "chain receive '<root>'"; the SFTP subsystem arrives as the harness's sftp-server.sh
  const dir = mkdtempSync(join(tmpdir(), 'chain-forced-'));
  const wrapper = join(dir, 'chain-ssh');
  writeFileSync(
    wrapper,
    `#!/bin/sh
case "$SSH_ORIGINAL_COMMAND" in
  "chain receive '"*"'") root="\${SSH_ORIGINAL_COMMAND#chain receive \\'}"; root="\${root%\\'}"
    exec '${process.execPath}' '${BIN}' --verbose receive "$root" 2>>"$root/../sshd.log" ;;
  */sftp-server.sh) exec $SSH_ORIGINAL_COMMAND ;;
  *) echo "refused: $SSH_ORIGINAL_COMMAND" >&2; exit 1 ;;
esac
`,
  );
  chmodSync(wrapper, 0o755);
  const forced = await startHosts(2, { sshdConfig: [`ForceCommand ${wrapper}`], prefix: 'forced' });
  const ds: ReturnType<typeof spawnChain>[] = [];
  try {
    const hosts = forced.hosts.map((h) => ({ name: h.name, address: h.address, port: h.port, root: h.root, state: h.state, receiver: 'chain' }));
    const cfg = forced.writeConfig({ interval: '300ms', hosts });
    const check = await chain(['--config', cfg, 'check', '--json']);
    assert.equal(check.exitCode, 0, check.stdout + check.stderr);
    assert.deepEqual((JSON.parse(check.stdout) as { hosts: { receiver: string }[] }).hosts.map((h) => h.receiver), ['ok', 'ok']);
    for (const h of forced.hosts) ds.push(watchers.add(spawnChain(['--config', cfg, '--host', h.name, 'watch'])));
    for (const d of ds) await d.waitFor(/watching/);
    const [a, b] = forced.hosts;
    mkdirSync(join(a!.root, 'up'));
    for (let i = 0; i < 40; i++) writeFileSync(join(a!.root, 'up', `f${i}`), `f ${i}`);
    await until(() => ringDiff(forced.hosts.map((h) => h.root)).length === 0, 60_000, 'convergence through the forced command');
    assert.ok(b!.sftpOps().received >= 40, `${b!.name}'s receiver wrote ${b!.sftpOps().received} files`);
  } finally {
    await watchers.stop(ds);
    await forced.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

