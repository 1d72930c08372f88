// Processes the benchmark starts (chain daemons, lsyncd, one-off commands): started in their own
// process group (a Ctrl-C reaches only the benchmark, which then stops them in order) and with
// setpriv --pdeathsig (they die with the benchmark even if it is SIGKILLed). Also CPU accounting
// from /proc and a "the machine is quiet again" wait used between timed runs.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync, type WriteStream } from 'node:fs';
import { promisify } from 'node:util';
import { availableParallelism } from 'node:os';

export const execFileP = promisify(execFile);
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const now = () => performance.now();

const SETPRIV = '/usr/bin/setpriv';
const live = new Set<Proc>();

export interface ProcOptions {
  env?: Record<string, string>;
  /** every output line is also appended here */
  logFile?: string;
  /** signal for the child when the benchmark dies (default SIGKILL) */
  pdeathsig?: 'KILL' | 'TERM';
}

/** A long-running child whose output is kept line by line (the last 5,000 lines). */
export class Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly lines: string[] = [];
  /** lines ever seen; lines[0] is line number total - lines.length */
  private total = 0;
  private partial = '';
  private readonly waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  private readonly log?: WriteStream;
  private done = false;

  constructor(
    readonly name: string,
    readonly cmd: string,
    readonly args: string[],
    opts: ProcOptions = {},
  ) {
    const usePdeath = existsSync(SETPRIV);
    const file = usePdeath ? SETPRIV : cmd;
    const argv = usePdeath ? ['--pdeathsig', opts.pdeathsig ?? 'KILL', cmd, ...args] : args;
    this.child = spawn(file, argv, {
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (!this.child.pid) throw new Error(`cannot start ${cmd}`);
    this.pid = this.child.pid;
    if (opts.logFile) this.log = createWriteStream(opts.logFile, { flags: 'a' });
    const onData = (d: Buffer) => {
      this.log?.write(d);
      const text = this.partial + d.toString();
      const parts = text.split('\n');
      this.partial = parts.pop() ?? '';
      for (const line of parts) this.addLine(line);
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.done = true;
        live.delete(this);
        if (this.partial) this.addLine(this.partial);
        this.log?.end();
        resolve({ code, signal });
      });
    });
    live.add(this);
  }

  private addLine(line: string): void {
    this.lines.push(line);
    this.total++;
    if (this.lines.length > 5000) this.lines.splice(0, 1000);
    for (const w of [...this.waiters]) {
      const m = line.match(w.re);
      if (m) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  }

  get running(): boolean {
    return !this.done;
  }

  /** a mark for since() */
  get lineCount(): number {
    return this.total;
  }

  /** the lines output after mark (as far as they are still kept) */
  since(mark: number): string[] {
    return this.lines.slice(Math.max(0, mark - (this.total - this.lines.length)));
  }

  tail(n = 20): string {
    return this.lines.slice(-n).join('\n');
  }

  /** the first line (already seen, or coming) matching re */
  waitFor(re: RegExp, timeoutMs = 120_000): Promise<RegExpMatchArray> {
    for (const l of this.lines) {
      const m = l.match(re);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => fail(`timed out after ${timeoutMs / 1000}s`), timeoutMs);
      const fail = (why: string) => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new Error(`${this.name}: ${why} waiting for ${re}; last output:\n${this.tail()}`));
      };
      const w = {
        re,
        resolve: (m: RegExpMatchArray) => {
          clearTimeout(t);
          resolve(m);
        },
      };
      this.waiters.push(w);
      void this.exited.then(({ code, signal }) => {
        if (this.waiters.includes(w)) {
          clearTimeout(t);
          fail(`exited (${signal ?? code})`);
        }
      });
    });
  }

  /** signal the process (not its children); after graceMs, SIGKILL its whole tree */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.done) return this.exited;
    try {
      process.kill(this.pid, signal);
    } catch {
      /* gone */
    }
    const t = setTimeout(() => killTree(this.pid, 'SIGKILL'), graceMs);
    const r = await this.exited;
    clearTimeout(t);
    // children it left behind (lsyncd's rsync/ssh) go too
    killGroup(this.pid);
    return r;
  }
}

/** Stop everything still running (in parallel): SIGTERM, then SIGKILL after graceMs. */
export async function stopAll(graceMs = 10_000): Promise<void> {
  await Promise.all([...live].map((p) => p.stop('SIGTERM', graceMs).catch(() => {})));
}

/** Synchronous last resort (process 'exit'): SIGKILL every tracked tree. */
export function killAllNow(): void {
  for (const p of live) {
    killTree(p.pid, 'SIGKILL');
    killGroup(p.pid);
  }
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    /* no such group left */
  }
}

// ---- /proc -------------------------------------------------------------------------------------

export interface PStat {
  pid: number;
  ppid: number;
  comm: string;
  /** utime+stime of the process itself, in clock ticks */
  self: number;
  /** plus cutime+cstime: the CPU of children it has reaped */
  total: number;
}

export function readProcs(): Map<number, PStat> {
  const out = new Map<number, PStat>();
  for (const ent of readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    try {
      const s = readFileSync(`/proc/${ent}/stat`, 'utf8');
      const close = s.lastIndexOf(')');
      const comm = s.slice(s.indexOf('(') + 1, close);
      const f = s.slice(close + 2).split(' ');
      const [ut, st, cut, cst] = [f[11], f[12], f[13], f[14]].map(Number);
      out.set(Number(ent), { pid: Number(ent), ppid: Number(f[1]), comm, self: ut + st, total: ut + st + cut + cst });
    } catch {
      /* ended while we looked */
    }
  }
  return out;
}

export function descendants(all: Map<number, PStat>, root: number, includeRoot = true): number[] {
  const kids = new Map<number, number[]>();
  for (const p of all.values()) (kids.get(p.ppid) ?? kids.set(p.ppid, []).get(p.ppid)!).push(p.pid);
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of kids.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  if (includeRoot && all.has(root)) out.push(root);
  walk(root);
  return out;
}

export function killTree(pid: number, sig: NodeJS.Signals): void {
  const all = readProcs();
  for (const p of descendants(all, pid).reverse()) {
    try {
      process.kill(p, sig);
      if (sig === 'SIGKILL' || sig === 'SIGTERM') process.kill(p, 'SIGCONT');
    } catch {
      /* gone */
    }
  }
}

export const TICK_S = 0.01; // CLK_TCK is 100 on Linux x86/arm

/**
 * CPU ticks used by the trees under each named root pid: living processes count with what they
 * reaped (a finished rsync or sftp-server shows up in its parent's cutime), so short-lived helpers
 * are counted as long as their reaper lives.
 */
export function cpuOf(groups: Record<string, number>): Record<string, number> {
  const all = readProcs();
  const out: Record<string, number> = {};
  for (const [name, pid] of Object.entries(groups)) {
    out[name] = descendants(all, pid).reduce((s, p) => s + (all.get(p)?.total ?? 0), 0);
  }
  return out;
}

/** CPU of children this process has reaped (cp, rsync, tar ...), in ticks */
export function reapedChildTicks(): number {
  const s = readFileSync('/proc/self/stat', 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[13]) + Number(f[14]);
}

/**
 * Wait until everything this benchmark started has been idle for `windows` consecutive windows:
 * together under `maxTicks` of CPU per window and no new process. Daemons batch for an interval
 * before they act, so first wait at least minMs. Also wait (up to foreignWaitMs) until processes
 * this benchmark did not start use at most foreignShare of the machine, so a timed run does not
 * start in the middle of somebody else's build.
 */
export async function waitQuiet(
  opts: { minMs?: number; windowMs?: number; maxTicks?: number; windows?: number; timeoutMs?: number; foreignShare?: number; foreignWaitMs?: number } = {},
): Promise<number> {
  const t0 = now();
  const { minMs = 1500, windowMs = 500, maxTicks = 3, windows = 2, timeoutMs = 180_000, foreignShare = 0.25, foreignWaitMs = 30_000 } = opts;
  await sleep(minMs);
  const me = process.pid;
  const sample = () => {
    const all = readProcs();
    return new Map(descendants(all, me, false).map((p) => [p, all.get(p)!.total]));
  };
  let prev = sample();
  let prevLoad = loadSample();
  let quiet = 0;
  const cpus = Math.max(1, availableParallelism());
  while (quiet < windows) {
    if (now() - t0 > timeoutMs) {
      process.stderr.write(`warning: processes still busy after ${timeoutMs / 1000}s; going on\n`);
      break;
    }
    await sleep(windowMs);
    const cur = sample();
    const load = loadSample();
    let delta = 0;
    let fresh = false;
    for (const [pid, t] of cur) {
      const before = prev.get(pid);
      if (before === undefined) {
        fresh = true;
        delta += t;
      } else delta += t - before;
    }
    const foreign = foreignLoad(prevLoad, load).foreign;
    const othersBusy = foreign > foreignShare * cpus * (windowMs / 1000) && now() - t0 < minMs + foreignWaitMs;
    quiet = delta <= maxTicks && !fresh && !othersBusy ? quiet + 1 : 0;
    prev = cur;
    prevLoad = load;
  }
  return now() - t0;
}

/** VmHWM / VmRSS of a process, in bytes */
export function memOf(pid: number): { hwm: number; rss: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(s.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))?.[1] ?? NaN) * 1024;
  return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
}

/**
 * CPU of processes this benchmark did not start (user processes only: kernel threads, interrupts and
 * softirq are left out, as loopback networking and writeback caused by our own runs land there),
 * and the machine's steal time. The difference between two samples is other people's load.
 */
export interface Load {
  /** pid → utime+stime of every other user process (not cutime: a reaped child's whole lifetime
   *  would land in its parent at once) */
  others: Map<number, number>;
  steal: number;
}

export function loadSample(): Load {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const all = readProcs();
  const ours = new Set(descendants(all, process.pid));
  const others = new Map<number, number>();
  for (const p of all.values()) if (!ours.has(p.pid) && p.pid !== 2 && p.ppid !== 2) others.set(p.pid, p.self);
  return { others, steal: cpu[7] ?? 0 };
}

/** CPU seconds other processes used between two samples, and the hypervisor's steal */
export function foreignLoad(a: Load, b: Load): { foreign: number; steal: number } {
  let ticks = 0;
  // a process missing from the first sample started meanwhile: all of its CPU is new
  for (const [pid, t] of b.others) ticks += Math.max(0, t - (a.others.get(pid) ?? 0));
  return { foreign: Math.max(0, ticks) * TICK_S, steal: (b.steal - a.steal) * TICK_S };
}
