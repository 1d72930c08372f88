// npm run bench: chain against rsync and lsyncd, in one run, on the same loopback sshd hosts.
//
//   burst    10,000 × 5 KiB (100 leaf dirs) cp -a'd into host1 of a 3-host `chain watch` ring, timed
//            until all are on host3; beside one plain `rsync -a` hop and an lsyncd chain
//            (default.rsyncssh, delay 1) host1→host2→host3. Chain at interval 1s, and 100ms.
//   latency  one 5 KiB file host1→host3: chain (interval 1s, and 100ms) and the lsyncd chain.
//   rss      peak RSS of `chain watch` over 100,000 files (roots already identical) and how long its
//            startup compare takes, beside `rsync -a` finding the same trees identical.
//   repair   `chain repair --link host1:host2 --delete` over 100,000 files with 1% differing, beside
//            `rsync -a --delete` of the same trees (bench/repair.ts); with --repair-million also the
//            peak RSS of a repair over 1,000,000 entries.
//   profile  (only when asked) one chain burst with CPU profiles of the daemons and every SFTP
//            request counted in sftp-server's log.
//
// See bench/README.md. Read ../shared/BENCHMARKING.md for this machine's quirks: runs use fresh
// directories, old copies are renamed aside (never deleted) until the end, sources are pre-read,
// and chain / rsync / lsyncd runs are interleaved; medians and min–max are reported.
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, rmSync, readFileSync, statSync, readdirSync, copyFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startHosts, type Ring } from '../test/support/sshd.js';
import { BIN } from '../test/support/chain.js';
import { Proc, stopAll, killAllNow, sleep, now, waitQuiet, cpuOf, reapedChildTicks, memOf, execFileP, TICK_S, loadSample, foreignLoad } from './lib/procs.js';
import { makeTree, preRead, preStat, Completion, renameAside, type Layout } from './lib/files.js';
import { startLsyncd } from './lib/lsyncd.js';
import { summariseProfile, setSftpLog, countSftpRequests } from './lib/profile.js';
import { median, min, max, secs, ratio, table, markdown } from './lib/stats.js';
import { repairBench } from './repair.js';

// ---- options ----------------------------------------------------------------------------------

const SECTIONS = ['burst', 'latency', 'rss', 'repair', 'profile'] as const;
type Section = (typeof SECTIONS)[number];

interface Options {
  runs: number;
  only: Set<Section>;
  quick: boolean;
  fast: boolean;
  sftpLog: boolean;
  /** chain's pushes use SFTP only (receiver: false), not chain receive on the hosts */
  sftpOnly: boolean;
  /** the repair section also measures peak RSS over a million entries (slow to set up) */
  repairMillion: boolean;
  json?: string;
  verbose: boolean;
  /** the chain daemons run with --verbose (debug lines in their logs) */
  daemonDebug: boolean;
  /** a timed run during which other processes used more than this share of the machine is repeated */
  maxOther: number;
  retries: number;
  /** untimed burst rounds first (every tool once per round): a daemon's first burst compiles its code */
  warmup: number;
}

const USAGE = `usage: npm run bench -- [--runs N] [--only burst,latency,rss,repair,profile] [--profile] [--quick]
                       [--no-fast] [--sftp-log] [--sftp-only] [--repair-million] [--max-other-load PCT] [--retries N]
                       [--warmup N] [--json FILE] [--verbose]
  --runs N     timed runs per workload (default 5; 3 with --quick); medians and min–max are reported
  --warmup N   untimed burst rounds before the timed ones, every tool once per round (default 1):
               a chain daemon compiles its hot code during its first burst after start
  --only LIST  sections to run (default burst,latency,rss,repair)
  --profile    also run the profile section (CPU profiles of the daemons, SFTP requests per file)
  --quick      a smoke check: 1,000 burst files, 10,000 files for rss and repair
  --repair-million  the repair section also measures a repair's peak RSS over 1,000,000 entries
               (100,000 with --quick); creating them takes minutes
  --no-fast    skip the interval 100ms ring
  --sftp-log   keep the harness's per-request sftp-server INFO log on during timed runs
  --sftp-only  chain pushes everything over SFTP (receiver: false), not small files to chain receive
  --max-other-load PCT  a timed run during which processes this benchmark did not start used more
               than PCT% of the machine is run again (default 25); the quietest attempt is kept
  --retries N  at most N such repeats per run (default 2)
  --json FILE  also write the results as JSON
  --verbose    print each run as it finishes, and the daemons' push lines
  --daemon-debug  the chain daemons log at debug level (--verbose); with a run that never
               completed, every daemon's log is kept (the path is printed at the end)`;

function parseArgs(argv: string[]): Options {
  const o: Options = { runs: NaN, only: new Set(['burst', 'latency', 'rss', 'repair']), quick: false, fast: true, sftpLog: false, sftpOnly: false, repairMillion: false, verbose: false, daemonDebug: false, maxOther: 0.25, retries: 2, warmup: 1 };
  let profile = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    const key = a.split('=')[0];
    if (key === '--runs') {
      o.runs = Number(val());
      if (!Number.isInteger(o.runs) || o.runs < 1) usage('--runs must be a positive integer');
    } else if (key === '--only') {
      const list = val().split(',').map((s) => s.trim()).filter(Boolean);
      for (const s of list) if (!SECTIONS.includes(s as Section)) usage(`unknown section ${s} (have ${SECTIONS.join(', ')})`);
      o.only = new Set(list as Section[]);
    } else if (key === '--profile') profile = true;
    else if (key === '--quick') o.quick = true;
    else if (key === '--no-fast') o.fast = false;
    else if (key === '--sftp-log') o.sftpLog = true;
    else if (key === '--sftp-only') o.sftpOnly = true;
    else if (key === '--repair-million') o.repairMillion = true;
    else if (key === '--json') o.json = val();
    else if (key === '--max-other-load') {
      o.maxOther = Number(val()) / 100;
      if (!(o.maxOther > 0)) usage('--max-other-load takes a percentage, e.g. 25');
    } else if (key === '--retries') {
      o.retries = Number(val());
      if (!Number.isInteger(o.retries) || o.retries < 0) usage('--retries must be 0 or more');
    } else if (key === '--warmup') {
      o.warmup = Number(val());
      if (!Number.isInteger(o.warmup) || o.warmup < 0) usage('--warmup must be 0 or more');
    }
    else if (key === '--verbose' || key === '-v') o.verbose = true;
    else if (key === '--daemon-debug') o.daemonDebug = true;
    else if (key === '--help' || key === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else usage(`unknown option ${a}`);
  }
  if (profile) o.only.add('profile');
  if (Number.isNaN(o.runs)) o.runs = o.quick ? 3 : 5;
  return o;
}

function usage(msg: string): never {
  console.error(`${msg}\n${USAGE}`);
  process.exit(2);
}

// ---- state of one benchmark run ---------------------------------------------------------------

const opts = parseArgs(process.argv.slice(2));
const FILE_SIZE = 5 * 1024;
const BURST_FILES = opts.quick ? 1_000 : 10_000;
const RSS_FILES = opts.quick ? 10_000 : 100_000;
const RSS_LIMIT = 150e6;
const INTERVAL_MS = 1000;
const FAST_MS = 100;
const LSYNCD_DELAY = 1;

const benchDir = mkdtempSync(join(tmpdir(), 'chain-bench-'));
let ring: Ring | undefined;
let stopping = false;

const say = (s: string) => process.stderr.write(`${s}\n`);
const step = (s: string) => process.stderr.write(`\n== ${s}\n`);
const fmtN = (n: number) => n.toLocaleString('en-US');
const fmtS = (ms: number) => (ms === Infinity ? 'never' : (ms / 1000).toFixed(2));
const MB = (b: number) => (Number.isFinite(b) ? `${(b / 1e6).toFixed(1)} MB` : '—');

interface Row {
  workload: string;
  chainLabel: string;
  chain: number[];
  anchorLabel: string;
  anchor: number[];
  kind: 'time' | 'bytes';
  target?: { max: number; text: string };
  /** what was timed on chain's side, and on the anchor's */
  chainCmd: string;
  anchorCmd: string;
}
const rows: Row[] = [];
/** the long-running processes of the burst and latency sections, printed once */
const setup: string[] = [];
const notes: string[] = [];
/** replication that never completed (files that never arrived) */
const failures: string[] = [];
const extras: Record<string, unknown> = {};

// ---- chain rings and lsyncd -------------------------------------------------------------------

interface ChainRing {
  label: string;
  intervalMs: number;
  cfg: string;
  roots: string[];
  daemons: Proc[];
  commands: string[];
}

async function startChainRing(label: string, intervalMs: number, rootName: string, stateName: string, cpuProf?: string): Promise<ChainRing> {
  const r = ring!;
  // receiver: the harness's wrapper of this checkout's `chain receive` (or SFTP only)
  const hosts = r.hosts.map((h) => ({ name: h.name, address: h.address, port: h.port, root: join(h.dir, rootName), state: join(h.dir, stateName), receiver: opts.sftpOnly ? false : h.receiver }));
  for (const h of hosts) mkdirSync(h.root, { recursive: true }), mkdirSync(h.state, { recursive: true });
  const cfg = r.writeConfig({ interval: `${intervalMs}ms`, root: hosts[0].root, state: hosts[0].state, hosts }, join(benchDir, `chain-${label}.yaml`));
  const daemons = hosts.map((h) => startChainDaemon(`chain-${label}-${h.name}`, cfg, h.name, cpuProf));
  await Promise.all(daemons.map((d) => d.waitFor(/^watching /, 120_000)));
  return {
    label,
    intervalMs,
    cfg,
    roots: hosts.map((h) => h.root),
    daemons,
    commands: hosts.map((h) => `chain --config ${cfg} --host ${h.name} watch`),
  };
}

// tsc's output, unbundled: a CPU profile of it names chain's modules (dist/src/...) and each package
const TSC_MAIN = BIN.replace(/bin\/chain$/, 'dist/src/cli/main.js');

function startChainDaemon(name: string, cfg: string, host: string, cpuProf?: string): Proc {
  // bin/chain as the command users run (its shell line execs node in the same process); profiled: node on tsc's output
  const [cmd, pre] = cpuProf ? [process.execPath, ['--cpu-prof', `--cpu-prof-dir=${cpuProf}`, `--cpu-prof-name=${host}.cpuprofile`, TSC_MAIN]] : [BIN, []];
  const debug = opts.daemonDebug ? ['--verbose'] : [];
  return new Proc(name, cmd, [...pre, '--config', cfg, '--host', host, ...debug, 'watch'], { logFile: join(benchDir, `${name}.log`) });
}

interface LsyncdChain {
  dirs: string[];
  procs: Proc[];
  commands: string[];
  configs: string[];
}

async function startLsyncdChain(): Promise<LsyncdChain> {
  const r = ring!;
  const dirs = r.hosts.map((h) => join(h.dir, 'lsyncd'));
  for (const d of dirs) mkdirSync(d, { recursive: true });
  const procs: Proc[] = [];
  const commands: string[] = [];
  const configs: string[] = [];
  for (let i = 0; i < 2; i++) {
    const l = await startLsyncd(
      `lsyncd-${r.hosts[i].name}`,
      { source: dirs[i], targetdir: dirs[i + 1], port: r.hosts[i + 1].port, user: r.user, identity: r.clientKey, knownHosts: r.knownHosts, delay: LSYNCD_DELAY },
      benchDir,
    );
    procs.push(l.proc);
    commands.push(l.command);
    configs.push(l.config);
  }
  return { dirs, procs, commands, configs };
}

function sshCmd(port: number): string {
  const r = ring!;
  return `ssh -p ${port} -i ${r.clientKey} -o UserKnownHostsFile=${r.knownHosts} -o StrictHostKeyChecking=yes`;
}

function trashMoves(paths: string[]): { path: string; trash: string }[] {
  return paths.map((p, i) => ({ path: p, trash: join(ring!.hosts[i % ring!.hosts.length].dir, 'trash') }));
}

// ---- one timed copy ---------------------------------------------------------------------------

interface Arrival {
  /** cp -a finished */
  cp: number;
  /** all files on the second host */
  hop1: number;
  /** all files on the third host */
  done: number;
  /** CPU seconds per process group during the run */
  cpu: Record<string, number>;
  /** CPU seconds used meanwhile by processes this benchmark did not start, and steal time */
  noise: { foreign: number; steal: number };
  /** the copy never completed: what was missing */
  missing?: string;
}

/**
 * cp -a the staging tree to dirs[0]/run, wait until it is complete on dirs[1] and dirs[2]. A copy
 * that makes no progress for stallMs is given up: done is then Infinity and `missing` names what
 * never arrived (a replication failure is a result too, not a reason to stop the benchmark).
 */
async function copyAndWait(staging: string, layout: Layout, dirs: string[], run: string, groups: Record<string, number>, stallMs: number): Promise<Arrival> {
  await preRead(staging);
  const c2 = new Completion(join(dirs[1], run), layout);
  const c3 = new Completion(join(dirs[2], run), layout);
  const cpu0 = cpuOf(groups);
  const reaped0 = reapedChildTicks();
  const own0 = process.cpuUsage();
  const load0 = loadSample();
  const t0 = now();
  const cp = spawn('cp', ['-a', staging, join(dirs[0], run)], { stdio: 'ignore' });
  let tCp = NaN;
  let cpFailed: string | null = null;
  const cpDone = new Promise<void>((resolve) =>
    cp.once('exit', (code, sig) => {
      tCp = now() - t0;
      if (code !== 0) cpFailed = `cp exited ${sig ?? code}`;
      resolve();
    }),
  );
  let hop1 = NaN;
  let done = NaN;
  let missing: string | undefined;
  let progress = -1;
  let progressAt = now();
  let lastCount = now();
  for (;;) {
    if (cpFailed) throw new Error(cpFailed);
    if (Number.isNaN(hop1) && c2.check()) hop1 = now() - t0;
    if (c3.check()) {
      done = now() - t0;
      if (Number.isNaN(hop1)) hop1 = done;
      break;
    }
    if (now() - lastCount > 2000) {
      lastCount = now();
      const n = c2.count + c3.count;
      if (n !== progress) {
        progress = n;
        progressAt = now();
      } else if (Number.isFinite(tCp) && now() - progressAt > stallMs) {
        const lost = (c: Completion, d: string) => (c.done ? '' : `${fmtN(layout.files - c.count)} missing in ${d}/${run} (${c.missing(3).join(', ')}…)`);
        missing = [lost(c2, dirs[1]), lost(c3, dirs[2])].filter(Boolean).join('; ');
        say(`    ${run}: no progress for ${stallMs / 1000} s: ${missing}`);
        done = Infinity;
        if (Number.isNaN(hop1)) hop1 = Infinity;
        break;
      }
    }
    await sleep(50);
  }
  const cpu1 = cpuOf(groups);
  const noise = foreignLoad(load0, loadSample());
  const own = process.cpuUsage(own0);
  await cpDone;
  const cpu: Record<string, number> = {};
  for (const k of Object.keys(groups)) cpu[k] = (cpu1[k] - cpu0[k]) * TICK_S;
  cpu['cp'] = (reapedChildTicks() - reaped0) * TICK_S;
  cpu['bench-poll'] = (own.user + own.system) / 1e6;
  return { cp: tCp, hop1, done, cpu, noise, missing };
}

/** one small file written on dirs[0]/rel; ms until it is on dirs[1] and dirs[2] */
async function oneFile(dirs: string[], rel: string, timeoutMs = 60_000): Promise<{ hop1: number; done: number }> {
  const data = randomBytes(FILE_SIZE);
  const t0 = now();
  writeFileSync(join(dirs[0], rel), data);
  let hop1 = NaN;
  for (;;) {
    if (Number.isNaN(hop1) && existsSync(join(dirs[1], rel))) hop1 = now() - t0;
    if (existsSync(join(dirs[2], rel))) {
      const done = now() - t0;
      return { hop1: Number.isNaN(hop1) ? done : hop1, done };
    }
    if (now() - t0 > timeoutMs) {
      failures.push(`${rel} did not reach ${existsSync(join(dirs[1], rel)) ? dirs[2] : dirs[1]} within ${timeoutMs / 1000} s`);
      return { hop1: Number.isNaN(hop1) ? Infinity : hop1, done: Infinity };
    }
    await sleep(5);
  }
}

async function rsyncOnce(src: string, dest: string, port: number, extra: string[] = []): Promise<number> {
  const t0 = now();
  await execFileP('rsync', ['-a', ...extra, '-e', sshCmd(port), `${src}/`, `${ring!.user}@127.0.0.1:${dest}/`], { maxBuffer: 16 << 20 });
  return now() - t0;
}

function rsyncCommand(src: string, dest: string, port: number, extra: string[] = []): string {
  return `rsync -a ${extra.map((e) => e + ' ').join('')}-e "${sshCmd(port)}" ${src}/ ${ring!.user}@127.0.0.1:${dest}/`;
}

const CPUS = availableParallelism();
/** share of the machine's CPU that processes this benchmark did not start used during a run */
const otherShare = (noise: { foreign: number }, wallMs: number) => noise.foreign / ((CPUS * Math.max(wallMs, 1)) / 1000);

/** flag a run during which other processes on this machine used a noticeable share of the CPU */
function noiseText(noise: { foreign: number; steal: number }, wallMs: number): string {
  const share = otherShare(noise, wallMs);
  return share > 0.05 || noise.steal > 0.05 * (wallMs / 1000) ? `  [other load ${noise.foreign.toFixed(2)} CPU-s = ${(100 * share).toFixed(0)}% of the machine, steal ${noise.steal.toFixed(2)} s]` : '';
}

const noisy = { retried: 0, kept: 0 };
/**
 * Run a timed measurement; when other processes used more than --max-other-load of the machine
 * meanwhile, run it again (up to --retries times) and keep the attempt with the least other load.
 */
async function retryNoisy<T>(name: string, i: number, attempt: (n: number) => Promise<{ value: T; wallMs: number; noise: { foreign: number } }>): Promise<T> {
  let best: { value: T; share: number } | null = null;
  for (let n = 0; n <= opts.retries; n++) {
    const r = await attempt(n);
    const share = otherShare(r.noise, r.wallMs);
    if (!best || share < best.share) best = { value: r.value, share };
    if (share <= opts.maxOther) return best.value;
    if (n < opts.retries) {
      noisy.retried++;
      say(`    (other load ${(100 * share).toFixed(0)}% > ${(100 * opts.maxOther).toFixed(0)}%: running ${name} ${i + 1} again)`);
    }
  }
  noisy.kept++;
  return best!.value;
}

const sumCpu = (c: Record<string, number>) => Object.values(c).reduce((s, x) => s + x, 0);
function cpuLine(c: Record<string, number>): string {
  return Object.entries(c)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
}
function medianCpu(list: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(list[0] ?? {})) out[k] = median(list.map((c) => c[k]));
  return out;
}

// ---- sections ---------------------------------------------------------------------------------

async function burstSection(staging: string, layout: Layout, a: ChainRing, fast: ChainRing | null, ls: LsyncdChain | null): Promise<void> {
  step(`burst: ${fmtN(layout.files)} × 5 KiB in ${layout.dirs.length} dirs, ${opts.runs} runs each, interleaved`);
  const r = ring!;
  const rsyncDir = join(r.hosts[1].dir, 'rsync');
  mkdirSync(rsyncDir, { recursive: true });
  const sshd = Object.fromEntries(r.hosts.map((h) => [`sshd-${h.name}`, h.pid]));
  const res = {
    chain: [] as Arrival[],
    fast: [] as Arrival[],
    lsyncd: [] as Arrival[],
    rsync: [] as number[],
    rsyncCpu: [] as Record<string, number>[],
  };
  const stall = opts.quick ? 30_000 : 60_000;
  // a system copying into dirs[0] and replicating to dirs[1], dirs[2]; settle: its batching delay
  // i < 0: warm-up round -i (untimed: not repeated for noise, kept in `warm` only)
  const warm: Record<string, number[]> = {};
  const roundLabel = (i: number) => (i < 0 ? `warm-up ${-i}` : `run ${i + 1}`);
  /** the name a round's copy gets (per attempt) */
  const roundDir = (prefix: string, i: number, attempt: number) => `${prefix}-${i < 0 ? `warmup${-i}` : i}${attempt ? `-retry${attempt}` : ''}`;
  const ringRun = async (name: string, tag: string, dirs: string[], procs: Record<string, number>, settleMs: number, i: number, into: Arrival[]) => {
    const groups = { ...procs, ...sshd };
    const label = roundLabel(i);
    const once = async (attempt: number) => {
      const run = roundDir(tag, i, attempt);
      const x = await copyAndWait(staging, layout, dirs, run, groups, stall);
      if (x.missing) failures.push(`${name} ${label}${attempt ? ` (repeat ${attempt})` : ''} never completed: ${x.missing}`);
      say(`  ${name.padEnd(13)} ${label}: host3 ${fmtS(x.done)} s (host2 ${fmtS(x.hop1)} s, cp ${fmtS(x.cp)} s)${noiseText(x.noise, x.done)}${opts.verbose ? `  cpu-s: ${cpuLine(x.cpu)}` : ''}`);
      await waitQuiet({ minMs: 500, foreignWaitMs: 0 });
      renameAside(trashMoves(dirs.map((d) => join(d, run))));
      await waitQuiet({ minMs: settleMs + 1500 });
      // a run that never completed is not repeated for noise: it is a result
      return { value: x, wallMs: Number.isFinite(x.done) ? x.done : 1, noise: Number.isFinite(x.done) ? x.noise : { foreign: 0 } };
    };
    if (i < 0) {
      (warm[name] ??= []).push((await once(0)).value.done);
      return;
    }
    into.push(await retryNoisy(name, i, once));
  };
  const daemonsOf = (c: ChainRing) => Object.fromEntries(c.daemons.map((d, k) => [`chain-${r.hosts[k].name}`, d.pid]));
  for (let i = -opts.warmup; i < opts.runs; i++) {
    if (i === 0 && opts.warmup > 0) step(`timed runs (the warm-up rounds above are not in the results)`);
    await ringRun('chain 1s', 'burst-1s', a.roots, daemonsOf(a), a.intervalMs, i, res.chain);

    const rsyncRun = async (attempt: number) => {
      const dest = join(rsyncDir, roundDir('run', i, attempt));
      await preRead(staging);
      const reaped0 = reapedChildTicks();
      const cpu0 = cpuOf(sshd);
      const load0 = loadSample();
      const ms = await rsyncOnce(staging, dest, r.hosts[1].port);
      const noise = foreignLoad(load0, loadSample());
      const cpu1 = cpuOf(sshd);
      const got = new Completion(dest, layout);
      if (!got.check()) throw new Error(`rsync left ${dest} incomplete: ${got.count} files`);
      const cpu: Record<string, number> = { 'rsync+ssh (client)': (reapedChildTicks() - reaped0) * TICK_S };
      for (const k of Object.keys(sshd)) cpu[k] = (cpu1[k] - cpu0[k]) * TICK_S;
      say(`  ${'rsync one hop'.padEnd(13)} ${roundLabel(i)}: ${fmtS(ms)} s${noiseText(noise, ms)}${opts.verbose ? `  cpu-s: ${cpuLine(cpu)}` : ''}`);
      renameAside([{ path: dest, trash: join(r.hosts[1].dir, 'trash') }]);
      await waitQuiet({ minMs: 300 });
      return { value: { ms, cpu }, wallMs: ms, noise };
    };
    if (i < 0) (warm['rsync one hop'] ??= []).push((await rsyncRun(0)).value.ms);
    else {
      const rs = await retryNoisy('rsync one hop', i, rsyncRun);
      res.rsync.push(rs.ms);
      res.rsyncCpu.push(rs.cpu);
    }

    if (ls) await ringRun('lsyncd chain', 'burst-lsyncd', ls.dirs, { 'lsyncd-host1': ls.procs[0].pid, 'lsyncd-host2': ls.procs[1].pid }, LSYNCD_DELAY * 1000, i, res.lsyncd);

    if (fast) await ringRun('chain 100ms', 'burst-100ms', fast.roots, daemonsOf(fast), fast.intervalMs, i, res.fast);
  }

  const copy = (dirs: string[], tag: string) => `cp -a ${staging} ${dirs[0]}/${tag}-N; until ${fmtN(layout.files)} files are in ${dirs[2]}/${tag}-N`;
  const rsyncCmd = rsyncCommand(staging, join(rsyncDir, 'run-N'), r.hosts[1].port);
  const burstName = `burst ${fmtN(layout.files)} × 5 KiB → host3`;
  const times = (xs: Arrival[]) => xs.map((x) => x.done);
  const A = `[A] ${copy(a.roots, 'burst-1s')}`;
  const B = fast ? `[B] ${copy(fast.roots, 'burst-100ms')}` : '';
  const L = ls ? `[L] ${copy(ls.dirs, 'burst-lsyncd')}` : '';
  if (ls) rows.push({ workload: burstName, chainLabel: 'chain, interval 1s', chain: times(res.chain), anchorLabel: 'lsyncd chain, delay 1', anchor: times(res.lsyncd), kind: 'time', target: { max: 0.3, text: '≤ 0.30×' }, chainCmd: A, anchorCmd: L });
  else notes.push('lsyncd is not installed: the lsyncd chain rows are missing');
  rows.push({ workload: burstName, chainLabel: 'chain, interval 1s', chain: times(res.chain), anchorLabel: 'rsync -a, ONE hop', anchor: res.rsync, kind: 'time', target: { max: 2, text: 'aim ≤ 2×' }, chainCmd: A, anchorCmd: rsyncCmd });
  if (fast) {
    if (ls) rows.push({ workload: burstName, chainLabel: 'chain, interval 100ms', chain: times(res.fast), anchorLabel: 'lsyncd chain, delay 1', anchor: times(res.lsyncd), kind: 'time', chainCmd: B, anchorCmd: L });
    rows.push({ workload: burstName, chainLabel: 'chain, interval 100ms', chain: times(res.fast), anchorLabel: 'rsync -a, ONE hop', anchor: res.rsync, kind: 'time', chainCmd: B, anchorCmd: rsyncCmd });
  }
  rows.push({
    workload: `burst → host2 only (first hop)`,
    chainLabel: 'chain, interval 1s',
    chain: res.chain.map((x) => x.hop1),
    anchorLabel: 'rsync -a, ONE hop',
    anchor: res.rsync,
    kind: 'time',
    chainCmd: `${A.replace(/ until .*/, '')} until all are in ${a.roots[1]}/burst-1s-N`,
    anchorCmd: rsyncCmd,
  });
  if (ls)
    rows.push({
      workload: `burst → host2 only (first hop)`,
      chainLabel: 'lsyncd, delay 1',
      chain: res.lsyncd.map((x) => x.hop1),
      anchorLabel: 'rsync -a, ONE hop',
      anchor: res.rsync,
      kind: 'time',
      chainCmd: `${L.replace(/ until .*/, '')} until all are in ${ls.dirs[1]}/burst-lsyncd-N`,
      anchorCmd: rsyncCmd,
    });
  if (opts.warmup > 0) {
    const w = Object.entries(warm).map(([k, v]) => `${k} ${v.map(fmtS).join(', ')} s`);
    notes.push(`warm-up (${opts.warmup} untimed round${opts.warmup > 1 ? 's' : ''} before the timed runs, not in the results; each chain ring's first burst after start compiles the daemons' hot code): ${w.join('; ')}`);
  }
  const cpTimes = [...res.chain, ...res.fast, ...res.lsyncd].map((x) => x.cp);
  notes.push(`cp -a of the burst into host1 (the local floor) took ${fmtS(median(cpTimes))} s median (${fmtS(min(cpTimes))}–${fmtS(max(cpTimes))}).`);
  const cpuNote = (label: string, list: Record<string, number>[], wall: number[]) => {
    const m = medianCpu(list);
    notes.push(`CPU seconds per run, ${label} (median; wall ${fmtS(median(wall))} s, 2 vCPUs = ${fmtS(2 * median(wall))} CPU-s available): ${cpuLine(m)}; total ${sumCpu(m).toFixed(2)}`);
  };
  const all = [...res.chain, ...res.fast, ...res.lsyncd];
  const shares = all.map((x) => 100 * otherShare(x.noise, x.done));
  notes.push(
    `other processes on this machine used ${median(shares).toFixed(0)}% of it median during the kept burst runs (max ${max(shares).toFixed(0)}%); steal ${median(all.map((x) => x.noise.steal)).toFixed(2)} s median; ${noisy.retried} runs repeated for other load > ${(100 * opts.maxOther).toFixed(0)}%, ${noisy.kept} kept anyway after ${opts.retries} repeats`,
  );
  cpuNote('chain interval 1s', res.chain.map((x) => x.cpu), times(res.chain));
  if (fast) cpuNote('chain interval 100ms', res.fast.map((x) => x.cpu), times(res.fast));
  cpuNote('rsync one hop', res.rsyncCpu, res.rsync);
  if (ls) cpuNote('lsyncd chain', res.lsyncd.map((x) => x.cpu), times(res.lsyncd));
  extras.burst = res;
}

async function latencySection(a: ChainRing, fast: ChainRing | null, ls: LsyncdChain | null): Promise<void> {
  step(`latency: one 5 KiB file host1 → host3, ${opts.runs} runs each, interleaved`);
  const systems: { label: string; dirs: string[]; min: number; out: { hop1: number; done: number }[]; commands: string[] }[] = [
    { label: 'chain 1s', dirs: a.roots, min: a.intervalMs, out: [], commands: a.commands },
  ];
  if (ls) systems.push({ label: 'lsyncd', dirs: ls.dirs, min: LSYNCD_DELAY * 1000, out: [], commands: ls.commands });
  if (fast) systems.push({ label: 'chain 100ms', dirs: fast.roots, min: fast.intervalMs, out: [], commands: fast.commands });
  for (const s of systems) {
    mkdirSync(join(s.dirs[0], 'latency'), { recursive: true });
    const t0 = now();
    while (!existsSync(join(s.dirs[2], 'latency'))) {
      if (now() - t0 > 60_000) throw new Error(`${s.label}: latency/ did not reach host3`);
      await sleep(50);
    }
  }
  await waitQuiet({ minMs: 2500 });
  for (let i = 0; i < opts.runs; i++) {
    for (const s of systems) {
      const x = await retryNoisy(s.label, i, async (attempt) => {
        const load0 = loadSample();
        const x = await oneFile(s.dirs, `latency/file-${i}${attempt ? `-retry${attempt}` : ''}.bin`);
        const noise = foreignLoad(load0, loadSample());
        say(`  ${s.label.padEnd(11)} run ${i + 1}: host3 ${fmtS(x.done)} s (host2 ${fmtS(x.hop1)} s)${noiseText(noise, x.done)}`);
        await waitQuiet({ minMs: s.min + 1000 });
        return { value: x, wallMs: x.done, noise };
      });
      s.out.push(x);
    }
  }
  const [c, l, f] = [systems[0], systems.find((s) => s.label === 'lsyncd'), systems.find((s) => s.label === 'chain 100ms')];
  const done = (s: (typeof systems)[number]) => s.out.map((x) => x.done);
  const tag = (s: (typeof systems)[number]) => (s === c ? '[A]' : s === l ? '[L]' : '[B]');
  const cmd = (s: (typeof systems)[number]) => `${tag(s)} 5 KiB written to ${s.dirs[0]}/latency/file-N.bin (fs.writeFileSync); until it is in ${s.dirs[2]}/latency/`;
  if (l) rows.push({ workload: 'one 5 KiB file → host3', chainLabel: 'chain, interval 1s', chain: done(c), anchorLabel: 'lsyncd chain, delay 1', anchor: done(l), kind: 'time', chainCmd: cmd(c), anchorCmd: cmd(l) });
  // the target: one file reaches host3 within its ring's interval + 200 ms
  const withinInterval = (s: (typeof systems)[number], label: string, intervalMs: number) =>
    rows.push({
      workload: 'one 5 KiB file → host3',
      chainLabel: label,
      chain: done(s),
      anchorLabel: 'target: interval + 200 ms',
      anchor: [intervalMs + 200],
      kind: 'time',
      target: { max: 1, text: '≤ 1.00×' },
      chainCmd: cmd(s),
      anchorCmd: '',
    });
  withinInterval(c, 'chain, interval 1s', INTERVAL_MS);
  if (f) withinInterval(f, 'chain, interval 100ms', FAST_MS);
  notes.push(`single file, first hop (host2): ${systems.map((s) => `${s.label} ${fmtS(median(s.out.map((x) => x.hop1)))} s`).join(', ')}`);
  extras.latency = Object.fromEntries(systems.map((s) => [s.label, s.out]));
}

async function rssSection(staging: string, layout: Layout): Promise<void> {
  const r = ring!;
  const copies = Math.round(RSS_FILES / layout.files);
  step(`rss: chain watch over ${fmtN(copies * layout.files)} files (2-host ring host1→host2, roots identical), ${opts.runs} runs, interleaved with rsync -a`);
  const [h1, h2] = r.hosts;
  const roots = [join(h1.dir, 'rss-root'), join(h2.dir, 'rss-root')];
  mkdirSync(roots[0], { recursive: true });
  mkdirSync(roots[1], { recursive: true });
  let t0 = now();
  await preRead(staging);
  for (let c = 0; c < copies; c++) await execFileP('cp', ['-a', staging, join(roots[0], `part${c}`)]);
  const made = now() - t0;
  t0 = now();
  await execFileP('cp', ['-a', `${roots[0]}/.`, `${roots[1]}/`]);
  say(`  made ${fmtN(copies * layout.files)} files on host1 in ${fmtS(made)} s (cp -a ×${copies}); cp -a to host2's root in ${fmtS(now() - t0)} s`);
  const hwm: number[] = [];
  const rssNow: number[] = [];
  const compare: number[] = [];
  const startup: number[] = [];
  const rsync: number[] = [];
  let command = '';
  let sent = '';
  for (let i = 0; i < opts.runs; i++) {
    // a fresh state dir each run: the daemon finds no history and compares the whole tree
    const hosts = [h1, h2].map((h, k) => ({ name: h.name, address: h.address, port: h.port, root: roots[k], state: join(h.dir, `rss-state-${i}`), receiver: opts.sftpOnly ? false : h.receiver }));
    for (const h of hosts) mkdirSync(h.state, { recursive: true });
    const cfg = r.writeConfig({ interval: '1s', root: hosts[0].root, state: hosts[0].state, hosts }, join(benchDir, `chain-rss-${i}.yaml`));
    command = `chain --config ${cfg} --host host1 watch  (rss-state-N fresh each run; host2 runs no daemon)`;
    await preStat(...roots);
    await waitQuiet({ minMs: 200 });
    const t = now();
    const d = startChainDaemon(`chain-rss-${i}`, cfg, 'host1');
    const cmp = await d.waitFor(/compared (\d+) entries with \S+; (sent .*) in ([\d.]+)s$/, 600_000);
    await d.waitFor(/^watching /, 60_000);
    const up = now() - t;
    const m = memOf(d.pid);
    await d.stop('SIGTERM');
    hwm.push(m.hwm);
    rssNow.push(m.rss);
    compare.push(Number(cmp[3]) * 1000);
    startup.push(up);
    sent = `${fmtN(Number(cmp[1]))} entries compared, ${cmp[2]}`;
    say(`  chain run ${i + 1}: peak RSS ${MB(m.hwm)} (now ${MB(m.rss)}), startup compare ${cmp[3]} s (${sent}), start→watching ${fmtS(up)} s`);

    await preStat(...roots);
    await waitQuiet({ minMs: 200 });
    const ms = await rsyncOnce(roots[0], roots[1], h2.port, ['--exclude=/.chain/']);
    rsync.push(ms);
    say(`  rsync -a (nothing to send) run ${i + 1}: ${fmtS(ms)} s`);
  }
  rows.push({
    workload: `chain watch over ${fmtN(copies * layout.files)} files: peak RSS (VmHWM at "watching")`,
    chainLabel: 'chain watch',
    chain: hwm,
    anchorLabel: 'target: 150 MB',
    anchor: [RSS_LIMIT],
    kind: 'bytes',
    target: { max: 1, text: '≤ 1.00×' },
    chainCmd: command,
    anchorCmd: '',
  });
  rows.push({
    workload: `startup compare, ${fmtN(copies * layout.files)} identical files`,
    chainLabel: 'chain watch (its log)',
    chain: compare,
    anchorLabel: 'rsync -a, nothing to send',
    anchor: rsync,
    kind: 'time',
    chainCmd: command,
    anchorCmd: rsyncCommand(roots[0], roots[1], h2.port, ['--exclude=/.chain/']),
  });
  notes.push(`rss: ${sent}; start → "watching" ${fmtS(median(startup))} s median; RSS right after "watching" ${MB(median(rssNow))} median.`);
  renameAside(trashMoves(roots));
  extras.rss = { hwm, rssNow, compare, startup, rsync };
}

async function profileSection(staging: string, layout: Layout): Promise<void> {
  const r = ring!;
  step(`profile: one chain burst (${fmtN(layout.files)} files) with node --cpu-prof on the daemons and sftp-server at DEBUG3`);
  for (const h of r.hosts) setSftpLog(h.dir, h.logFile, 'DEBUG3');
  const profDir = join(benchDir, 'cpuprof');
  mkdirSync(profDir, { recursive: true });
  // the profiles outlive the run (for chrome://inspect or speedscope)
  const profDirKeep = mkdtempSync(join(tmpdir(), 'chain-bench-profiles-'));
  const p = await startChainRing('prof', INTERVAL_MS, 'prof-root', 'prof-state', profDir);
  await waitQuiet({ minMs: 1000 });
  const offsets = r.hosts.map((h) => statSync(h.logFile).size);
  const winStart = Number(process.hrtime.bigint() / 1000n);
  const logStart = p.daemons.map((d) => d.lineCount);
  const sshd = Object.fromEntries(r.hosts.map((h) => [`sshd-${h.name}`, h.pid]));
  const groups = { ...Object.fromEntries(p.daemons.map((d, k) => [`chain-${r.hosts[k].name}`, d.pid])), ...sshd };
  const x = await copyAndWait(staging, layout, p.roots, 'burst-prof', groups, 60_000);
  if (x.missing) failures.push(`profile run never completed: ${x.missing}`);
  await waitQuiet({ minMs: 2000 });
  const winEnd = Number(process.hrtime.bigint() / 1000n);
  const cpuAfterQuiet = cpuOf(groups);
  say(`  host3 after ${fmtS(x.done)} s (host2 ${fmtS(x.hop1)} s); CPU-s until host3: ${cpuLine(x.cpu)}`);
  const out: string[] = [];
  out.push(`profile run (sftp-server logging every request, daemons under --cpu-prof: slower than the timed runs):`);
  out.push(`  ${fmtN(layout.files)} files reached host2 in ${fmtS(x.hop1)} s and host3 in ${fmtS(x.done)} s; CPU seconds until then: ${cpuLine(x.cpu)}`);
  // what each daemon logged about its pushes
  p.daemons.forEach((d, k) => {
    const lines = d.since(logStart[k]).filter((l) => /^(pushed|compared|warn|error|\(node:\d+\) \w*Warning)/.test(l));
    out.push(`  ${r.hosts[k].name} daemon log during the burst (${lines.length} lines):`);
    for (const l of lines.slice(0, 12)) out.push(`    ${l}`);
    if (lines.length > 12) out.push(`    … (${lines.length - 12} more)`);
  });
  // SFTP requests per host: host2's sshd serves host1's daemon, host3's serves host2's, host1's serves host3's
  r.hosts.forEach((h, k) => {
    const text = readFileSync(h.logFile).subarray(offsets[k]).toString('utf8');
    const c = countSftpRequests(text);
    const from = r.hosts[(k + r.hosts.length - 1) % r.hosts.length].name;
    const per = (n: number) => (n / layout.files).toFixed(2);
    const types = Object.entries(c.byType)
      .sort((a, b) => b[1] - a[1])
      .map(([t, n]) => `${t} ${fmtN(n)} (${per(n)}/file)`)
      .join(', ');
    out.push(`  SFTP requests served by ${h.name} (pushes from ${from}): ${fmtN(c.total)} replies = ${per(c.total)} per file; ${types}; ${fmtN(c.bytesWritten)} bytes written`);
  });
  await Promise.all(p.daemons.map((d) => d.stop('SIGTERM', 30_000)));
  for (const h of r.hosts) setSftpLog(h.dir, h.logFile, opts.sftpLog ? 'INFO' : null);
  const cpuTotal = Object.entries(cpuAfterQuiet).map(([k, v]) => `${k} ${(v * TICK_S).toFixed(2)}`);
  out.push(`  CPU seconds since the daemons started, until the ring was quiet again: ${cpuTotal.join(', ')}`);
  for (const h of r.hosts) {
    const f = join(profDir, `${h.name}.cpuprofile`);
    if (!existsSync(f)) {
      out.push(`  (no CPU profile for ${h.name})`);
      continue;
    }
    const s = summariseProfile(f, [winStart, winEnd]);
    const pc = (ms: number) => `${((100 * ms) / s.totalMs).toFixed(1)}%`;
    out.push(`  ${h.name} daemon CPU profile, burst until quiet: ${fmtS(s.totalMs)} s busy (idle ${fmtS(s.idleMs)} s).`);
    out.push(`    self time by module: ${s.byModule.slice(0, 10).map(([m, ms]) => `${m} ${pc(ms)}`).join(', ')}`);
    out.push(`    self time, top functions: ${s.byFunction.slice(0, 15).map(([fn, ms]) => `${fn} ${pc(ms)}`).join('; ')}`);
    out.push(`    inclusive time in chain's code: ${s.chainInclusive.slice(0, 15).map(([fn, ms]) => `${fn} ${pc(ms)}`).join('; ')}`);
    writeFileSync(join(profDirKeep, `${h.name}.cpuprofile`), readFileSync(f));
  }
  out.push(`  CPU profiles kept in ${profDirKeep} (open in Chrome DevTools or speedscope; delete when done)`);
  extras.profile = out;
  notes.push(...out);
  renameAside(trashMoves(p.roots.map((root) => join(root, 'burst-prof'))));
}

// ---- repair: one link, 1% differing (bench/repair.ts) ------------------------------------------

async function repairSection(): Promise<void> {
  const r = await repairBench({
    ring: ring!,
    runs: opts.runs,
    files: opts.quick ? 10_000 : 100_000,
    entries: opts.quick ? 100_000 : 1_000_000,
    only: new Set(opts.repairMillion ? ['link', 'rss'] : ['link']),
    say,
  });
  const cpu = (xs?: number[]) => (xs?.length ? `${median(xs).toFixed(2)}` : '—');
  for (const row of r.rows) {
    const anchor = r.rows.find((x) => x.workload === row.workload && x.tool.startsWith('rsync'));
    if (row === anchor) continue;
    rows.push({
      workload: row.workload,
      chainLabel: row.tool,
      chain: row.values,
      anchorLabel: anchor ? anchor.tool : '(information)',
      anchor: anchor ? anchor.values : [],
      kind: row.kind,
      // issue 4: a repair of one link is no slower than rsync -a --delete of the same trees
      target: row.tool === 'chain repair (on host1)' ? { max: 1, text: '≤ 1.00×' } : undefined,
      chainCmd: row.command,
      anchorCmd: anchor?.command ?? '',
    });
  }
  const link = r.rows.filter((x) => x.cpu?.length);
  if (link.length) {
    notes.push(
      `repair CPU seconds per run (medians; the command with its children / the hosts' sshd trees with sftp-server or the rsync server / processes this benchmark did not start): ${link
        .map((x) => `${x.tool} ${cpu(x.cpu)} / ${cpu(x.serverCpu)} / ${cpu(x.otherCpu)}`)
        .join('; ')}`,
    );
  }
  notes.push(...r.notes);
  extras.repair = r;
}

// ---- report -----------------------------------------------------------------------------------

function report(): string {
  const head = ['#', 'workload', 'chain', 'chain median', 'chain min–max', 'anchor', 'anchor median', 'anchor min–max', 'ratio', 'target'];
  const fmt = (kind: Row['kind']) => (kind === 'bytes' ? MB : (ms: number) => secs(ms));
  const body = rows.map((r, i) => {
    const f = fmt(r.kind);
    const cm = median(r.chain);
    const am = median(r.anchor);
    const q = cm / am;
    const verdict = r.target ? `${r.target.text} ${q <= r.target.max ? 'met' : 'MISSED'}` : '';
    const rng = (xs: number[]) => (xs.length > 1 ? `${f(min(xs)).split(' ')[0]}–${f(max(xs))}` : '');
    const never = (xs: number[]) => {
      const n = xs.filter((x) => x === Infinity).length;
      return n ? ` (${n} of ${xs.length} never completed)` : '';
    };
    return [String(i + 1), r.workload, r.chainLabel, f(cm) + never(r.chain), rng(r.chain), r.anchorLabel, f(am) + never(r.anchor), rng(r.anchor), ratio(cm, am), verdict];
  });
  const cmds = rows.map((r, i) => `${String(i + 1).padStart(2)}. chain:  ${r.chainCmd}${r.anchorCmd ? `\n    anchor: ${r.anchorCmd}` : ''}`);
  const when = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const md = markdown(head, body);
  return [
    `chain bench, ${when}, ${opts.runs} runs per workload${opts.warmup ? ` after ${opts.warmup} untimed burst round${opts.warmup > 1 ? 's' : ''}` : ''}${opts.quick ? ' (--quick)' : ''}, node ${process.version}`,
    '',
    table(head, body),
    '',
    ...(failures.length ? ['REPLICATION FAILURES (files that never arrived; the run counts as never completed):', ...failures.map((f) => `- ${f}`), ''] : []),
    'Notes:',
    ...notes.map((n) => `- ${n}`),
    '',
    ...(setup.length ? ['Running during the burst and latency sections:', ...setup.map((x) => `  ${x}`), ''] : []),
    'Commands (each row):',
    ...cmds,
    '',
    'Markdown:',
    md,
  ].join('\n');
}

// ---- main -------------------------------------------------------------------------------------

async function cleanup(): Promise<void> {
  await stopAll(10_000);
  if (ring) {
    say('removing the hosts and their trash (this frees many inodes: give the disk ~35 s before timing anything else)');
    await ring.stop().catch(() => {});
  }
  // a run that never completed: the daemons' logs are what tells why
  const logs = existsSync(benchDir) ? readdirSync(benchDir).filter((f) => f.endsWith('.log')) : [];
  if (failures.length && logs.length) {
    const keep = mkdtempSync(join(tmpdir(), 'chain-bench-logs-'));
    for (const f of logs) copyFileSync(join(benchDir, f), join(keep, f));
    say(`the daemons' logs of this run are kept in ${keep}`);
  }
  rmSync(benchDir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  for (const tool of ['rsync', 'cp', 'tar', 'find']) await execFileP('sh', ['-c', `command -v ${tool}`]).catch(() => usage(`${tool} is needed`));
  const haveLsyncd = await execFileP('sh', ['-c', 'command -v lsyncd']).then(
    () => true,
    () => false,
  );
  if (!existsSync(BIN.replace(/bin\/chain$/, 'dist/cli/main.js')) || !existsSync(TSC_MAIN)) usage('dist/ is missing: run `npm run build` (npm run bench does)');

  step('starting 3 sshd hosts on 127.0.0.1');
  ring = await startHosts(3);
  for (const h of ring.hosts) {
    if (!opts.sftpLog && !setSftpLog(h.dir, h.logFile, null)) notes.push(`could not switch off sftp-server's request log on ${h.name}`);
    say(`  ${h.name}: port ${h.port}, dir ${h.dir}`);
  }
  notes.push(
    opts.sftpLog
      ? "sftp-server logged every request at INFO during timed runs (--sftp-log), as the test harness does"
      : 'sftp-server ran without per-request logging during timed runs (a stock `Subsystem sftp sftp-server`); the test harness logs at INFO',
    opts.sftpOnly
      ? 'chain pushed over SFTP only (--sftp-only: receiver: false)'
      : "chain pushed small new files to `chain receive` on each host (this checkout's bin/chain, through the harness's receive.sh); --sftp-only measures SFTP alone",
  );

  const staging = join(benchDir, 'staging');
  const t0 = now();
  const layout = makeTree(staging, BURST_FILES, FILE_SIZE);
  say(`  staging: ${fmtN(layout.files)} files in ${layout.dirs.length} leaf dirs under ${staging} (${fmtS(now() - t0)} s)`);

  const wantRings = opts.only.has('burst') || opts.only.has('latency');
  let a: ChainRing | null = null;
  let fast: ChainRing | null = null;
  let ls: LsyncdChain | null = null;
  if (wantRings) {
    step('starting chain watch ×3 (interval 1s)' + (opts.fast ? ', chain watch ×3 (interval 100ms)' : '') + (haveLsyncd ? ', lsyncd ×2 (delay 1)' : ''));
    a = await startChainRing('1s', INTERVAL_MS, 'root', 'state');
    if (opts.fast) fast = await startChainRing('100ms', FAST_MS, 'root-fast', 'state-fast');
    if (haveLsyncd) ls = await startLsyncdChain();
    else notes.push('lsyncd not found: no lsyncd rows (apt-get install lsyncd)');
    setup.push(`[A] chain ring, interval 1s: ${a.commands.join(' & ')}`);
    if (fast) setup.push(`[B] chain ring, interval 100ms: ${fast.commands.join(' & ')}`);
    if (ls) setup.push(`[L] lsyncd chain host1→host2→host3, delay ${LSYNCD_DELAY}: ${ls.commands.join(' & ')}`);
    setup.push(`[A] config ${a.cfg}:`, ...readFileSync(a.cfg, 'utf8').trimEnd().split('\n').map((l) => `    ${l}`));
    if (ls) setup.push(`[L] config ${ls.configs[0]}:`, ...readFileSync(ls.configs[0], 'utf8').trimEnd().split('\n').map((l) => `    ${l}`));
    await waitQuiet({ minMs: 1500 });
  }
  if (opts.only.has('burst')) await burstSection(staging, layout, a!, fast, ls);
  if (opts.only.has('latency')) await latencySection(a!, fast, ls);
  if (wantRings) {
    if (opts.verbose) for (const d of [...a!.daemons, ...(fast?.daemons ?? [])]) say(`--- ${d.name}\n${d.tail(40)}`);
    // peak memory of the burst daemons, for the notes
    const peaks = [...a!.daemons, ...(fast?.daemons ?? [])].map((d) => `${d.name.replace(/^chain-/, '')} ${MB(memOf(d.pid).hwm)}`);
    notes.push(`peak RSS of the ring daemons after the bursts: ${peaks.join(', ')}`);
    await stopAll(15_000);
  }
  if (opts.only.has('rss')) await rssSection(staging, layout);
  if (opts.only.has('repair')) await repairSection();
  if (opts.only.has('profile')) await profileSection(staging, layout);

  const text = report();
  process.stdout.write(`\n${text}\n`);
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), opts: { ...opts, only: [...opts.only] }, rows, failures, notes, extras }, null, 2));
}

process.on('exit', () => {
  killAllNow();
  try {
    rmSync(benchDir, { recursive: true, force: true });
  } catch {
    /* best effort */
  }
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    say(`\n${sig}: stopping everything this benchmark started`);
    void cleanup().finally(() => process.exit(130));
  });
}

main().then(
  async () => {
    stopping = true;
    await cleanup();
  },
  async (err: unknown) => {
    if (stopping) return;
    stopping = true;
    console.error(`bench failed: ${(err as Error).stack ?? err}`);
    await cleanup();
    process.exit(1);
  },
);
