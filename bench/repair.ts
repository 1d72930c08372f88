// `chain repair` against `rsync -a --delete`, in one run, on loopback sshd hosts (see
// ../shared/BENCHMARKING.md), and chain's peak RSS over a million entries.
//
//   link     100,000 × 5 KiB on host1 and host2, 1% (1,000 files) rewritten on host1 before each run
//            (new content and mtime); timed: `chain repair --link host1:host2 --delete` (run on host1:
//            its own root read directly, host2 over SFTP; from outside the ring: both over SFTP; both
//            with `trash: false`, like rsync; and on host1 with the default trash) beside
//            `rsync -a --delete` host1 → host2 over ssh. Runs interleaved (rsync, chain, …), the
//            trees stat'ed before each run. Per run also the CPU seconds of the command (with its
//            children: chain's find, rsync's ssh) and of the hosts' sshd trees (sshd, sftp-server or
//            the rsync server), and the load of processes the benchmark did not start.
//            With --rtt MS, host2 (for both tools) is reached through a relay that delays each
//            direction by MS/2 (bench/lib/delay-proxy.ts): a host a long link away.
//   rss      1,000,000 entries (empty files, 1,000 dirs) on host1, hard-linked copy on host2;
//            `chain repair --link host1:host2` under /usr/bin/time -v: listing both over SSH (find,
//            else SFTP), planning (nothing to do), locks. Peak RSS and wall time. Slow to set up
//            (a million files): in `npm run bench` only with --repair-million.
//
// Standalone: npm run build && node --import tsx bench/repair.ts [--runs N] [--quick] [--files N]
//             [--entries N] [--only link,rss] [--rtt MS] [--json FILE]
// From bench/run.ts (the `repair` section): repairBench({ ring, ... }) on its hosts; the result has
// rows (with CPU per run), notes and markdown.
import { mkdirSync, writeFileSync, readFileSync, readdirSync, existsSync, statSync, utimesSync, rmSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startHosts, type Ring } from '../test/support/sshd.js';
import { BIN } from '../test/support/chain.js';
import { execFileP, now, sleep, cpuOf, reapedChildTicks, loadSample, foreignLoad, waitQuiet, TICK_S } from './lib/procs.js';
import { makeTree, preStat, renameAside } from './lib/files.js';
import { median, min, max, secs, ratio, table, markdown } from './lib/stats.js';
import { setSftpLog } from './lib/profile.js';
import { startDelayProxy } from './lib/delay-proxy.js';

export interface RepairBenchOptions {
  /** timed runs per tool (≥ 5 for numbers worth quoting) */
  runs: number;
  /** files in the link workload */
  files: number;
  /** entries in the rss workload */
  entries: number;
  only: Set<'link' | 'rss'>;
  /** link workload: a round trip (ms) added between the tools and host2 (default 0: loopback) */
  rttMs?: number;
  /** progress lines (default: stderr) */
  say: (line: string) => void;
  /** hosts to use (the first two; left running): default, two of its own, stopped at the end */
  ring?: Ring;
}

export interface RepairBenchRow {
  workload: string;
  tool: string;
  /** ms, or bytes for rss */
  values: number[];
  kind: 'time' | 'bytes';
  command: string;
  /** per run: CPU seconds of the command itself, with its children (chain and its find; rsync and its ssh) */
  cpu?: number[];
  /** per run: CPU seconds of the hosts' sshd trees (sshd, sftp-server or the rsync server) */
  serverCpu?: number[];
  /** per run: CPU seconds used by processes this benchmark did not start */
  otherCpu?: number[];
}

export interface RepairBenchResult {
  rows: RepairBenchRow[];
  notes: string[];
  /** the summary table as GitHub markdown */
  markdown: string;
}

const SIZE = 5 * 1024;

/** Run the repair benchmark; the caller owns nothing it started (hosts and files are cleaned up). */
export async function repairBench(opts: Partial<RepairBenchOptions> = {}): Promise<RepairBenchResult> {
  const o: RepairBenchOptions = { runs: 5, files: 100_000, entries: 1_000_000, only: new Set(['link', 'rss']), say: (s) => process.stderr.write(s + '\n'), ...opts };
  if (!existsSync(join(BIN, '..', '..', 'dist', 'cli', 'main.js'))) throw new Error('bench/repair.ts runs the built binary: npm run build first');
  const dir = mkdtempSync(join(tmpdir(), 'chain-bench-repair-'));
  const ring = o.ring ?? (await startHosts(2));
  // a stock sftp-server: the test harness's per-request log would tax every SFTP request
  if (!o.ring) for (const h of ring.hosts) setSftpLog(h.dir, h.logFile, null);
  const res: RepairBenchResult = { rows: [], notes: [], markdown: '' };
  try {
    if (o.only.has('link')) await linkSection(ring, dir, o, res);
    if (o.only.has('rss')) await rssSection(ring, dir, o, res);
  } finally {
    if (!o.ring) await ring.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  res.markdown = summary(res);
  return res;
}

// ---- link: one link, 1% differing -------------------------------------------------------------

async function linkSection(ring: Ring, dir: string, o: RepairBenchOptions, res: RepairBenchResult): Promise<void> {
  const [h1, h2] = ring.hosts;
  const a = join(h1.dir, 'repair-a');
  const b = join(h2.dir, 'repair-b');
  const changed = Math.max(1, Math.round(o.files / 100));
  const far = o.rttMs ? `, ${o.rttMs} ms round trip to host2` : '';
  o.say(`\n== repair: one link over ${o.files.toLocaleString('en-US')} × 5 KiB, ${changed.toLocaleString('en-US')} (1%) differing${far}; ${o.runs} runs per tool, interleaved`);
  // host2 a long link away: both tools reach it through the delaying relay, known under its port
  const proxy = o.rttMs ? await startDelayProxy(h2.port, o.rttMs / 2) : undefined;
  const port2 = proxy?.port ?? h2.port;
  let knownHosts = ring.knownHosts;
  if (proxy) {
    knownHosts = join(dir, 'known_hosts-rtt');
    const lines = readFileSync(ring.knownHosts, 'utf8').split('\n').filter(Boolean);
    const relayed = lines.filter((l) => l.startsWith(`[127.0.0.1]:${h2.port} `)).map((l) => l.replace(`:${h2.port} `, `:${port2} `));
    writeFileSync(knownHosts, [...lines, ...relayed].join('\n') + '\n');
  }
  try {
    let t = now();
    mkdirSync(a, { recursive: true });
    const layout = makeTree(a, o.files, SIZE);
    await execFileP('cp', ['-a', `${a}/.`, `${b}/`]);
    o.say(`  made the trees in ${secs(now() - t)}`);
    // rsync keeps nothing it replaces: the like-for-like chain runs have `trash: false`; one more row
    // shows the default (every replaced version hard-linked into .chain/trash first)
    const reach = { ports: [h1.port, port2], knownHosts };
    const cfg = writeConfig(ring, dir, 'link', [a, b], { trash: false }, reach);
    const cfgTrash = writeConfig(ring, dir, 'link-trash', [a, b], {}, reach);
    const chainCmd = ['--config', cfg, '--no-progress', '--quiet', 'repair', '--link', 'host1:host2', '--delete'];
    const trashCmd = ['--config', cfgTrash, '--no-progress', '--quiet', 'repair', '--link', 'host1:host2', '--delete', '--host', 'host1'];
    const rsyncArgs = ['-a', '--delete', '--exclude=/.chain/', '-e', sshCmd(ring, port2, knownHosts), `${a}/`, `${ring.user}@127.0.0.1:${b}/`];
    // every file by name, to pick a fresh 1% for each run
    const names: string[] = [];
    for (const d of layout.dirs) for (const f of readdirSync(join(a, d.rel))) names.push(join(d.rel, f));
    let round = 0;
    const diverge = (): string[] => {
      const picked: string[] = [];
      const stride = Math.floor(names.length / changed);
      const mtime = 1_600_000_000 + ++round * 1000;
      for (let i = 0; i < changed; i++) {
        const rel = names[(i * stride + round * 7) % names.length]!;
        writeFileSync(join(a, rel), randomBytes(SIZE));
        utimesSync(join(a, rel), mtime, mtime);
        picked.push(rel);
      }
      return picked;
    };
    const check = (picked: string[], who: string) => {
      for (const rel of picked) {
        const x = statSync(join(a, rel));
        const y = statSync(join(b, rel));
        if (x.size !== y.size || Math.floor(x.mtimeMs / 1000) !== Math.floor(y.mtimeMs / 1000)) throw new Error(`${who} left ${rel} different`);
      }
    };
    const tools: { name: string; run: () => Promise<unknown>; command: string }[] = [
      { name: 'rsync -a --delete', run: () => execFileP('rsync', rsyncArgs, { maxBuffer: 16 << 20 }), command: `rsync ${rsyncArgs.map(q).join(' ')}` },
      // bin/chain run as the command it is (its shell line drops NODE_EXTRA_CA_CERTS, as it does for users)
      { name: 'chain repair (on host1)', run: () => execFileP(BIN, [...chainCmd, '--host', 'host1']), command: `chain ${[...chainCmd, '--host', 'host1'].join(' ')}` },
      { name: 'chain repair (outside the ring)', run: () => execFileP(BIN, chainCmd), command: `chain ${chainCmd.join(' ')}` },
      { name: 'chain repair (on host1, trash on)', run: () => execFileP(BIN, trashCmd), command: `chain ${trashCmd.join(' ')}` },
    ];
    const rows: RepairBenchRow[] = tools.map((tool) => ({
      workload: `repair one link, ${o.files.toLocaleString('en-US')} files, 1% differ${far}`,
      tool: tool.name,
      values: [],
      kind: 'time',
      command: tool.command,
      cpu: [],
      serverCpu: [],
      otherCpu: [],
    }));
    // one untimed round each: ssh host keys, page cache, the .chain/ dirs
    for (const tool of tools) {
      diverge();
      await tool.run();
    }
    const sshds = { host1: h1.pid, host2: h2.pid };
    for (let i = 0; i < o.runs; i++) {
      for (const [k, tool] of tools.entries()) {
        const picked = diverge();
        await preStat(a, b);
        // (other sessions' builds on the same two vCPUs: wait a little for them to calm down)
        await waitQuiet({ minMs: 100, windowMs: 250, windows: 1, foreignWaitMs: 10_000 });
        const load0 = loadSample();
        const own0 = reapedChildTicks();
        const server = new TreeCpu(Object.values(sshds));
        const reaped0 = cpuOf(sshds);
        t = now();
        await tool.run();
        const ms = now() - t;
        const sampled = await server.stop();
        const reaped1 = cpuOf(sshds);
        // what sshd reaped (all of it, unless a process was reparented away) or what was sampled
        // (all of it but each process's last few ms): the larger is the closer
        const serverCpu = Math.max(sampled, (reaped1.host1! - reaped0.host1! + reaped1.host2! - reaped0.host2!) * TICK_S);
        const cpu = (reapedChildTicks() - own0) * TICK_S;
        const other = foreignLoad(load0, loadSample()).foreign;
        check(picked, tool.name);
        const row = rows[k]!;
        row.values.push(ms);
        row.cpu!.push(cpu);
        row.serverCpu!.push(serverCpu);
        row.otherCpu!.push(other);
        o.say(`  ${tool.name.padEnd(34)} run ${i + 1}: ${secs(ms)}  (CPU: itself ${cpu.toFixed(2)} s, sshd+server ${serverCpu.toFixed(2)} s, others ${other.toFixed(2)} s)`);
      }
    }
    res.rows.push(...rows);
  } finally {
    await proxy?.close();
  }
  renameAside([
    { path: a, trash: join(h1.dir, 'trash') },
    { path: b, trash: join(h2.dir, 'trash') },
  ]);
}

// ---- rss: a million entries -------------------------------------------------------------------

async function rssSection(ring: Ring, dir: string, o: RepairBenchOptions, res: RepairBenchResult): Promise<void> {
  const [h1, h2] = ring.hosts;
  const a = join(h1.dir, 'rss-a');
  const b = join(h2.dir, 'rss-b');
  const perDir = 1000;
  const dirs = Math.ceil(o.entries / perDir);
  o.say(`\n== repair: peak RSS over ${o.entries.toLocaleString('en-US')} entries (${dirs.toLocaleString('en-US')} dirs of empty files), identical on host1 and host2`);
  let t = now();
  let n = 0;
  for (let d = 0; d < dirs && n < o.entries; d++) {
    const sub = join(a, `d${String(Math.floor(d / 100)).padStart(2, '0')}`, `e${String(d % 100).padStart(2, '0')}`);
    mkdirSync(sub, { recursive: true });
    n++;
    for (let i = 0; i < perDir - 1 && n < o.entries; i++, n++) writeFileSync(join(sub, `file-${String(i).padStart(4, '0')}.jpg`), '');
  }
  await execFileP('cp', ['-al', a, b]);
  o.say(`  made ${n.toLocaleString('en-US')} entries (+ cp -al) in ${secs(now() - t)}`);
  const cfg = writeConfig(ring, dir, 'rss', [a, b]);
  const args = ['--config', cfg, '--no-progress', '--quiet', 'repair', '--link', 'host1:host2'];
  const hwm: number[] = [];
  const wall: number[] = [];
  const runs = Math.max(1, Math.min(o.runs, 3));
  for (let i = 0; i < runs; i++) {
    await preStat(a, b);
    t = now();
    const r = await execFileP('/usr/bin/time', ['-v', BIN, ...args], { maxBuffer: 16 << 20 });
    wall.push(now() - t);
    const kb = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1]);
    hwm.push(kb * 1024);
    o.say(`  run ${i + 1}: peak RSS ${(kb / 1024).toFixed(0)} MiB, ${secs(wall[i]!)} (list both over SSH + plan)`);
  }
  res.rows.push({ workload: `repair over ${o.entries.toLocaleString('en-US')} entries (identical): peak RSS`, tool: 'chain repair', values: hwm, kind: 'bytes', command: `/usr/bin/time -v chain ${args.join(' ')}` });
  res.rows.push({ workload: `repair over ${o.entries.toLocaleString('en-US')} entries (identical): wall time`, tool: 'chain repair', values: wall, kind: 'time', command: `chain ${args.join(' ')}` });
  renameAside([
    { path: a, trash: join(h1.dir, 'trash') },
    { path: b, trash: join(h2.dir, 'trash') },
  ]);
}

// ---- helpers ----------------------------------------------------------------------------------

/**
 * CPU seconds of everything under the sshd listeners while a run goes on: each process's own ticks
 * as last seen, sampled every 20 ms (the tree found through /proc/PID/task/PID/children, a few
 * reads per sample). Not the listeners' cutime: a session's sftp-server can outlive its parent and
 * be reparented away, and then its CPU never reaches sshd. A process's last < 20 ms before it
 * exits may be missed.
 */
class TreeCpu {
  private readonly base = new Map<number, number>();
  private readonly last = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly roots: number[]) {
    for (const [pid, ticks] of this.sample()) this.base.set(pid, ticks);
    this.timer = setInterval(() => this.take(), 20);
  }

  private sample(): Map<number, number> {
    const out = new Map<number, number>();
    const visit = (pid: number) => {
      try {
        const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        out.set(pid, Number(f[11]) + Number(f[12]));
        for (const c of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ')) if (c.trim()) visit(Number(c));
      } catch {
        /* gone meanwhile */
      }
    };
    for (const r of this.roots) visit(r);
    return out;
  }

  private take(): number {
    const now = this.sample();
    for (const [pid, ticks] of now) this.last.set(pid, ticks);
    return now.size;
  }

  /** stop sampling (once sshd has no session left, or after 2 s); CPU seconds used */
  async stop(): Promise<number> {
    for (const t = now(); now() - t < 2000 && this.take() > this.roots.length; ) await sleep(20);
    clearInterval(this.timer);
    let ticks = 0;
    for (const [pid, t] of this.last) ticks += t - (this.base.get(pid) ?? 0);
    return ticks * TICK_S;
  }
}

/** reach: the hosts' ports and the known_hosts file to use instead of the ring's own */
function writeConfig(ring: Ring, dir: string, name: string, roots: string[], extra: Record<string, unknown> = {}, reach?: { ports: number[]; knownHosts: string }): string {
  const hosts = ring.hosts.map((h, i) => ({ name: h.name, address: h.address, port: reach?.ports[i] ?? h.port, root: roots[i]!, state: join(h.dir, `state-${name}`) }));
  for (const h of hosts) mkdirSync(h.state, { recursive: true });
  const ssh = reach ? { ssh: { knownHosts: reach.knownHosts } } : {};
  return ring.writeConfig({ root: roots[0], state: hosts[0]!.state, hosts, ...extra, ...ssh }, join(dir, `${name}.yaml`));
}

function sshCmd(ring: Ring, port: number, knownHosts = ring.knownHosts): string {
  return `ssh -p ${port} -i ${ring.clientKey} -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes`;
}

const q = (s: string) => (/[\s"]/.test(s) ? JSON.stringify(s) : s);
const MiB = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`;

function summary(res: RepairBenchResult): string {
  const head = ['workload', 'tool', 'median', 'min–max', 'runs', 'vs rsync', 'CPU itself', 'CPU sshd+server', 'CPU others'];
  const cpu = (xs?: number[]) => (xs?.length ? `${median(xs).toFixed(2)} s` : '');
  const rows = res.rows.map((r) => {
    const fmt = r.kind === 'time' ? secs : MiB;
    const anchor = res.rows.find((x) => x.workload === r.workload && x.tool.startsWith('rsync'));
    return [
      r.workload,
      r.tool,
      fmt(median(r.values)),
      `${fmt(min(r.values))}–${fmt(max(r.values))}`,
      String(r.values.length),
      anchor && anchor !== r ? ratio(median(r.values), median(anchor.values)) : '',
      cpu(r.cpu),
      cpu(r.serverCpu),
      cpu(r.otherCpu),
    ];
  });
  const cmds = res.rows.map((r) => `- ${r.tool}: \`${r.command}\``);
  return [markdown(head, rows), '', ...[...new Set(cmds)]].join('\n') + '\n\n' + table(head, rows) + '\n';
}

// ---- standalone ---------------------------------------------------------------------------------

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opts: Partial<RepairBenchOptions> = {};
  let json: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const [k, v] = argv[i]!.includes('=') ? argv[i]!.split('=', 2) : [argv[i]!, argv[i + 1]];
    const take = () => (argv[i]!.includes('=') ? v! : (i++, v!));
    if (k === '--runs') opts.runs = Number(take());
    else if (k === '--files') opts.files = Number(take());
    else if (k === '--entries') opts.entries = Number(take());
    else if (k === '--only') opts.only = new Set(take().split(',') as ('link' | 'rss')[]);
    else if (k === '--json') json = take();
    else if (k === '--rtt') opts.rttMs = Number(take());
    else if (k === '--quick') Object.assign(opts, { runs: 3, files: 10_000, entries: 100_000 });
    else {
      process.stderr.write('usage: node --import tsx bench/repair.ts [--runs N] [--quick] [--files N] [--entries N] [--only link,rss] [--rtt MS] [--json FILE]\n');
      process.exit(2);
    }
  }
  const r = await repairBench(opts);
  process.stdout.write('\n' + r.markdown);
  if (json) writeFileSync(json, JSON.stringify(r, null, 2));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
  });
}
