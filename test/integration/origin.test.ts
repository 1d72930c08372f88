// Finding 4 of bench/README.md, end to end: a burst written on host1 crosses host2 and host3, and
// host3 does not compare it back with host1 file by file. The inbox manifests say where each change
// started (its origin); the last hop drops a path that is still exactly what arrived when its own
// target is that origin. Counted from host1's own sftp-server log (at VERBOSE it names every lstat).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Ring, TestHost } from '../support/sshd.js';
import { ringForFile } from '../support/ring.js';
import { ringDiff, snapshot, until } from '../support/tree.js';

let ring: Ring;
const watchers = ringForFile(3, (r) => (ring = r));

/** the harness runs sftp-server at INFO, which logs opens and renames but not lstat: VERBOSE does
 *  ("lstat name …"); new SFTP sessions only, so this is done before the daemons connect */
function logLstat(h: TestHost): void {
  const wrapper = join(h.dir, 'sftp-server.sh');
  writeFileSync(wrapper, readFileSync(wrapper, 'utf8').replace(/ -l INFO /, ' -l VERBOSE '));
  chmodSync(wrapper, 0o755);
}

/** SFTP requests host's sftp-server logged for paths under root/dir since the last resetOps */
function requestsUnder(h: TestHost, dir: string, size: number): { lstat: number; writes: number; lines: number } {
  // resetOps() remembers a log offset; sftpOps() parses from there: read the same slice for lstat
  const text = readFileSync(h.logFile).subarray(size).toString('utf8');
  const under = `"${join(h.root, dir)}/`;
  const lines = text.split('\n').filter((l) => l.includes(under));
  return {
    lstat: lines.filter((l) => /^lstat name /.test(l)).length,
    // over SFTP, or by chain receive
    writes: lines.filter((l) => /^open .* flags \S*WRITE/.test(l) || /^receive "/.test(l)).length,
    lines: lines.length,
  };
}

const inboxEmpty = () => ring.hosts.every((h) => !existsSync(join(h.root, '.chain/inbox')) || readdirSync(join(h.root, '.chain/inbox')).length === 0);

test('a burst made on host1 goes round the ring without being compared back with host1 file by file', { timeout: 180_000 }, async () => {
  const [h1, h2, h3] = ring.hosts;
  logLstat(h1);
  const cfg = ring.writeConfig({ interval: '1s' });
  await watchers.start(ring.hosts, cfg);
  const from = statSync(h1.logFile).size;

  const files = 400;
  for (let i = 0; i < files; i++) {
    const dir = join(h1.root, `burst/d${i % 8}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `f${i}.bin`), randomBytes(64 + i));
  }
  const roots = ring.hosts.map((h) => h.root);
  await until(() => snapshot(h3.root).size >= files + 9 && ringDiff(roots).length === 0, 120_000, () => `convergence:\n${ringDiff(roots).slice(0, 8).join('\n')}`);
  // host3's last batches may still be under way: wait until host1's log has been still for a while
  let last = -1;
  let since = Date.now();
  await until(
    () => {
      const n = statSync(h1.logFile).size;
      if (n !== last || !inboxEmpty()) (last = n), (since = Date.now());
      return Date.now() - since > 2000;
    },
    60_000,
    'the ring going quiet',
    100,
  );

  const got = requestsUnder(h1, "burst", from);
  // before origins were carried: ≥ 1 lstat per file (1.6 in the 10,000-file bench). Now host3 looks
  // at host1 only for the directories it compares (a readdir each, to find files whose events were
  // lost) and for files whose own watcher event beat the manifest naming them
  assert.equal(got.writes, 0, 'host1 already has every file: nothing is written back');
  assert.ok(got.lstat <= files / 10, `host1 answered ${got.lstat} lstat for ${files} files it made (want ≤ ${files / 10})`);
  // host2 and host3 each received every file once
  // (renamed into place over SFTP, or written by chain receive: SftpOps.landed)
  const landed = (h: TestHost) => h.sftpOps().landed.filter((p) => p.startsWith(join(h.root, 'burst') + '/')).length;
  assert.equal(landed(h2), files);
  assert.equal(landed(h3), files);
  console.log(`# host1 sftp requests for its own burst of ${files} files: ${got.lstat} lstat, ${got.writes} writes, ${got.lines} lines`);
});
