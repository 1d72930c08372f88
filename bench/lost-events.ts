// Does a ring converge when inotify drops events? (bench/README.md findings 16 and 17.) Not a speed
// benchmark: a check, on real loopback sshd hosts, that chain's burst rescans find what its
// watcher never reported. inotify drops events silently when its queue overflows (a large copy
// on a busy machine), and the watcher library discards the overflow notice; on a quiet machine
// that is rare, so this makes it common: the three daemons start with
// fs.inotify.max_queued_events at --queue (16: a queue is sized when the watcher opens it; the
// machine's value is put back as soon as they watch), and each copy runs under `nice -n 19`
// beside --busy busy loops. Each run:
//   new      `cp -a` of a --files tree into a new directory on host1 (cp -a sets each directory's
//            mtime back once it has filled it)
//   rewrite  `cp -r` of the same tree over that copy: every file rewritten in place (no
//            directory entry changes)
// and after each, once host3 holds all of it or has not come closer for 40 s, the files host3
// lacks or holds with another mtime (whole seconds) than host1's.
// Both should be 0. Root only (it writes /proc/sys), and never in CI: for the seconds the daemons
// take to start, every new inotify watcher on the machine gets the small queue too.
//
//   npm run build && node --import tsx bench/lost-events.ts [--runs N] [--files N] [--queue N] [--busy N]
import { readFileSync, writeFileSync, readdirSync, statSync, existsSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFile, type ChildProcess } from 'node:child_process';
import { startHosts } from '../test/support/sshd.js';
import { spawnChain } from '../test/support/chain.js';
import { execFileP, sleep, now, waitQuiet } from './lib/procs.js';
import { makeTree } from './lib/files.js';
import { setSftpLog } from './lib/profile.js';

const QUEUE_FILE = '/proc/sys/fs/inotify/max_queued_events';

function option(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} needs a whole number, got ${process.argv[i + 1]}`);
  return v;
}

/** file path → mtime in whole seconds, everything under dir */
function mtimes(dir: string, rel = '', out = new Map<string, number>()): Map<string, number> {
  if (!existsSync(join(dir, rel))) return out;
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) mtimes(dir, p, out);
    else out.set(p, Math.floor(statSync(join(dir, p)).mtimeMs / 1000));
  }
  return out;
}

/** files of a that b lacks, or holds with another mtime */
function differing(a: Map<string, number>, b: Map<string, number>): { missing: number; stale: number } {
  let missing = 0;
  let stale = 0;
  for (const [p, t] of a) {
    const u = b.get(p);
    if (u === undefined) missing++;
    else if (u !== t) stale++;
  }
  return { missing, stale };
}

/** what of want host3's copy (dir) lacks or holds stale, once that is none or has not changed for 40 s */
async function converged(want: Map<string, number>, dir: string): Promise<{ missing: number; stale: number }> {
  let last = '';
  let since = now();
  for (;;) {
    const d = differing(want, mtimes(dir));
    if (d.missing + d.stale === 0) return d;
    const key = `${d.missing}/${d.stale}`;
    if (key !== last) [last, since] = [key, now()];
    else if (now() - since > 40_000) return d;
    await sleep(500);
  }
}

/** cmd under nice -n 19 while `busy` busy loops run */
async function squeezed(busy: number, cmd: string[]): Promise<void> {
  const loops: ChildProcess[] = Array.from({ length: busy }, () => execFile('sh', ['-c', 'while :; do :; done']));
  try {
    await execFileP('nice', ['-n', '19', ...cmd]);
  } finally {
    for (const l of loops) l.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const runs = option('runs', 3);
  const files = option('files', 10_000);
  const queue = option('queue', 16);
  const busy = option('busy', 2);
  const original = readFileSync(QUEUE_FILE, 'utf8').trim();
  try {
    writeFileSync(QUEUE_FILE, original);
  } catch {
    throw new Error(`cannot write ${QUEUE_FILE}: run as root (this check shrinks inotify's queue for a moment)`);
  }
  const ring = await startHosts(3);
  for (const h of ring.hosts) setSftpLog(h.dir, h.logFile, null);
  const cfg = ring.writeConfig({ interval: '1s' });
  const say = (s: string) => process.stderr.write(`${s}\n`);
  let daemons: ReturnType<typeof spawnChain>[] = [];
  const rows: { run: number; kind: string; seconds: number; missing: number; stale: number }[] = [];
  try {
    writeFileSync(QUEUE_FILE, String(queue));
    try {
      daemons = ring.hosts.map((h) => spawnChain(['--config', cfg, '--host', h.name, 'watch']));
      await Promise.all(daemons.map((d) => d.waitFor(/watching /, 120_000)));
    } finally {
      writeFileSync(QUEUE_FILE, original);
    }
    const staging = join(ring.dir, 'staging');
    mkdirSync(staging);
    makeTree(staging, files, 5 * 1024);
    say(`3 hosts, daemons watching with an inotify queue of ${queue}; ${files} files per copy, ${busy} busy loops beside it`);
    const [h1, , h3] = ring.hosts;
    for (let r = 0; r < runs; r++) {
      const rel = `run${r}`;
      // new: a tree copied in, its directories' mtimes set back by cp -a
      let t0 = now();
      await squeezed(busy, ['cp', '-a', staging, join(h1.root, rel)]);
      const want = mtimes(join(h1.root, rel));
      let d = await converged(want, join(h3.root, rel));
      rows.push({ run: r, kind: 'new (cp -a)', seconds: (now() - t0) / 1000, ...d });
      say(`run ${r} new: ${d.missing} missing, ${d.stale} stale on host3 after ${((now() - t0) / 1000).toFixed(1)} s`);
      await waitQuiet({ minMs: 3000 });
      // rewrite: every file again, in place, a second later (so its mtime differs)
      for (const s0 = Math.floor(Date.now() / 1000); Math.floor(Date.now() / 1000) === s0; ) await sleep(20);
      t0 = now();
      await squeezed(busy, ['cp', '-r', `${staging}/.`, join(h1.root, rel)]);
      d = await converged(mtimes(join(h1.root, rel)), join(h3.root, rel));
      rows.push({ run: r, kind: 'rewrite (cp -r)', seconds: (now() - t0) / 1000, ...d });
      say(`run ${r} rewrite: ${d.missing} missing, ${d.stale} stale on host3 after ${((now() - t0) / 1000).toFixed(1)} s`);
      await waitQuiet({ minMs: 3000 });
    }
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
    await Promise.all(ring.hosts.map((h) => h.kill()));
    // aside, not deleted (ring.stop() would): this disk is slow to create files for a while after a mass delete
    const trash = join(tmpdir(), 'chain-bench-trash');
    mkdirSync(trash, { recursive: true });
    if (existsSync(ring.dir)) renameSync(ring.dir, join(trash, `lost-events-${Date.now()}`));
  }
  process.stdout.write(['run | copy | seconds | missing on host3 | stale on host3', '---|---|---|---|---', ...rows.map((x) => `${x.run} | ${x.kind} | ${x.seconds.toFixed(1)} | ${x.missing} | ${x.stale}`)].join('\n') + '\n');
  const lost = rows.reduce((s, x) => s + x.missing + x.stale, 0);
  if (lost > 0) {
    process.stderr.write(`${lost} file(s) never reached host3 as host1 has them\n`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exitCode = 2;
});
