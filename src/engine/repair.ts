// `chain repair` without the command line: connect to every host involved, take their host locks,
// list their trees in parallel, reconcile (core/reconcile.ts), and apply the plan
// (repair-apply.ts); paths that changed meanwhile are listed and planned again, a few rounds at
// most. A host that cannot be reached, or stops answering, is left out: the rest is repaired
// among themselves (exit 3). Returns an outcome for the CLI to print; never exits.
import { setFlagsFromString } from 'node:v8';
import type { Logger } from '../core/log.js';
import type { ExcludeFn } from '../core/exclude.js';
import type { Remote } from '../transport/remote.js';
import { EXIT, type ExitCode } from '../core/exit-codes.js';
import { classify } from '../core/classify.js';
import { Listings } from '../core/listings.js';
import {
  emptyCounts,
  reconcile,
  roles,
  type HostCounts,
  type RepairMode,
  type RepairPlan,
  type RootState,
  type SafetyStop,
} from '../core/reconcile.js';
import { listHost, listPaths } from './listing.js';
import { PlanApplier, type PathFailure } from './repair-apply.js';
import { StreamPlanner } from './repair-stream.js';
import { acquireHostLock, type HostLock, type LockInfo } from './lock.js';
import { fmtBytes, fmtCount } from './format.js';

export interface RepairHost {
  name: string;
  connect: () => Promise<Remote>;
}

export interface RepairOptions {
  /** the ring, in push order */
  hosts: RepairHost[];
  mode: RepairMode;
  delete: boolean;
  conflicts: 'newer' | 'keep';
  /** keep what is replaced or removed in each target's .chain/trash (config `trash` not false) */
  trash?: boolean;
  maxDelete?: number;
  /** plan only: no locks taken, nothing changed */
  dryRun: boolean;
  exclude: ExcludeFn;
  log: Logger;
  progress?: { start(text: string): void; update(text: string): void; stop(text: string): void };
  /** this process's name in the locks it takes (the ring member it runs on, or the machine) */
  owner: string;
  /** actions in flight per host (default: repair-apply.ts) */
  concurrency?: number;
  signal?: AbortSignal;
  lock?: { ttlMs?: number; refreshMs?: number };
}

export type HostState = 'ok' | 'unreachable' | 'down' | 'failed' | 'not-involved';

export interface HostReport {
  name: string;
  state: HostState;
  error?: string;
  /** entries listed */
  entries: number;
  planned: HostCounts;
  done: HostCounts;
}

export interface RepairOutcome {
  code: ExitCode;
  dryRun: boolean;
  hosts: HostReport[];
  /** the first plan (what --dry-run prints) */
  plan?: RepairPlan;
  stop?: SafetyStop;
  busy?: { host: string; holder: LockInfo };
  failed: PathFailure[];
  /** paths still changing after the re-plans: run repair again */
  unresolved: string[];
  rounds: number;
  elapsedMs: number;
}

const MAX_ROUNDS = 4;

/**
 * Past this many listed entries the heap may grow to at most 2× what is live before V8 collects
 * (read at every collection, so it applies from then on). The listings only grow until the plan is
 * made, and V8's default lets the heap reach up to 4× the live data: over a million entries ~450 MiB
 * for ~120 MiB live, ~325 MiB with this (bench/README.md). Below it the default is cheaper in CPU.
 */
const BIG_LISTING = 250_000;

export async function runRepair(o: RepairOptions): Promise<RepairOutcome> {
  const t0 = Date.now();
  const n = o.hosts.length;
  const { involved } = roles(o.mode, n, o.hosts.map(() => true));
  const reports: HostReport[] = o.hosts.map((h, i) => ({
    name: h.name,
    state: involved.includes(i) ? 'ok' : 'not-involved',
    entries: 0,
    planned: emptyCounts(),
    done: emptyCounts(),
  }));
  const out: RepairOutcome = { code: EXIT.OK, dryRun: o.dryRun, hosts: reports, failed: [], unresolved: [], rounds: 0, elapsedMs: 0 };
  const remotes: (Remote | null)[] = o.hosts.map(() => null);
  const locks: HostLock[] = [];
  const lost = (h: number, state: HostState, err: unknown) => {
    reports[h]!.state = state;
    reports[h]!.error = (err as Error).message;
    const r = remotes[h];
    remotes[h] = null;
    void r?.close().catch(() => {});
  };

  try {
    // 1–3. per host, all hosts at once: connect, then take its lock and list its tree together
    //    (listing changes nothing; over a long link the lock's round trips would otherwise delay
    //    the listing). A host does not wait for the others before it lists (our own root is listed
    //    while the SSH handshakes run), but nothing is changed anywhere before every host is
    //    connected and locked: the applier and the early starts (repair-stream.ts) come into being
    //    only then, and what was listed before that is handed to them on the way. A lock held by
    //    someone else ends the repair (exit 75); a host whose lock cannot be taken is left out,
    //    whatever its listing found. What changes between a listing and the lock (a daemon's last
    //    batch) is caught as any change during a repair is: each copy checks source and target
    //    first, and what differs is listed and planned again.
    o.progress?.start(`connecting to ${involved.map((h) => o.hosts[h]!.name).join(', ')}`);
    const l = new Listings(o.hosts.map((h) => h.name), 4096);
    const roots: RootState[] = o.hosts.map(() => 'ok');
    let busy: RepairOutcome['busy'];
    const listingStop = new AbortController();
    const listSignal = o.signal ? AbortSignal.any([o.signal, listingStop.signal]) : listingStop.signal;
    const streaming = !o.dryRun && o.maxDelete === undefined;
    const opts = { mode: o.mode, delete: o.delete, conflicts: o.conflicts };
    let firstStart = 0;
    // until the stream exists: what it would have been told, in order
    let stream: StreamPlanner | undefined;
    const toStream: ((s: StreamPlanner) => void)[] = [];
    const tell = (fn: (s: StreamPlanner) => void) => (stream ? fn(stream) : streaming && toStream.push(fn));
    let ap: PlanApplier | undefined;
    let shown = 0;
    let at = Date.now();
    let totals = { files: 0, bytes: 0 };
    const listed = () => involved.map((h) => `${o.hosts[h]!.name} ${remotes[h] ? fmtCount(reports[h]!.entries) : '—'}`).join(' · ');
    const copiedSoFar = () => (ap?.progress.files ? ` · copied ${fmtCount(ap.progress.files)} files so far` : '');
    let lt = 0;
    let compactHeap = false;
    const ready: Promise<void>[] = [];
    const listings = involved.map((h) => {
      let isReady!: () => void;
      ready.push(new Promise<void>((r) => (isReady = r)));
      return (async () => {
        try {
          remotes[h] = await o.hosts[h]!.connect();
        } catch (err) {
          reports[h]!.state = classify(err) === 'die' ? 'failed' : 'unreachable';
          reports[h]!.error = (err as Error).message;
          o.log.warn(`${o.hosts[h]!.name} unreachable: ${(err as Error).message}`, { host: o.hosts[h]!.name });
          isReady();
          return;
        }
        o.log.debug(`${o.hosts[h]!.name}: connected after ${Date.now() - t0}ms`);
        // the lock is taken while the host is listed (listing changes nothing): false when this
        // host is left out or busy, and then its listing does not count
        const locked = o.dryRun
          ? Promise.resolve(true)
          : (async () => {
              const r = remotes[h]!;
              try {
                const got = await acquireHostLock(r, { host: o.owner, command: 'repair', log: o.log, ...o.lock });
                if (got.held) {
                  busy ??= { host: r.name, holder: got.held };
                  listingStop.abort(new Error(`${r.name} is locked`));
                  return false;
                }
                locks.push(got.lock);
                return true;
              } catch (err) {
                lost(h, classify(err) === 'again' ? 'unreachable' : 'failed', err);
                o.log.warn(`${o.hosts[h]!.name}: cannot take its lock: ${(err as Error).message}`, { host: o.hosts[h]!.name });
                return false;
              } finally {
                isReady();
              }
            })();
        if (o.dryRun) isReady();
        const r = remotes[h]!;
        lt ||= Date.now();
        try {
          roots[h] = await listHost(r, l, h, {
            exclude: o.exclude,
            signal: listSignal,
            // (replayed once every host is locked: not for a host left out by then)
            onDir: streaming ? (row, rows) => tell((s) => remotes[h] && s.onDir(h, row, rows)) : undefined,
            onEntries: (k) => {
              reports[h]!.entries += k;
              if (!compactHeap && reports.reduce((s, x) => s + x.entries, 0) > BIG_LISTING) {
                compactHeap = true;
                setFlagsFromString('--heap-growing-percent=100');
              }
              if (Date.now() - shown > 200) {
                shown = Date.now();
                o.progress?.update(`listing: ${listed()}${copiedSoFar()}`);
              }
            },
          });
          o.log.debug(`${r.name}: listed ${fmtCount(l.count(h))} entries after ${Date.now() - t0}ms`);
          await locked;
        } catch (err) {
          if (o.signal?.aborted) throw err;
          // its lock was not taken: left out (or busy) already, whatever the listing did
          if (!(await locked) || busy) return;
          // a directory this host cannot list would look like deleted files: never plan on that
          if (classify(err) !== 'again') throw err;
          lost(h, 'down', err);
          tell((s) => s.hostDown(h));
          o.log.warn(`${r.name} stopped answering while listed: ${(err as Error).message}; going on without it`, { host: r.name });
        }
      })();
    });
    // every host connected and locked (or left out): changes may start now
    const started = Promise.all(ready).then(() => {
      if (busy) return;
      o.log.debug(`connected and locked in ${Date.now() - t0}ms`);
      ap = new PlanApplier(remotes, {
        concurrency: o.concurrency,
        trash: o.trash,
        log: o.log,
        signal: o.signal,
        onProgress: (p) => {
          if (Date.now() - shown < 200) return;
          shown = Date.now();
          o.progress?.update(totals.files ? copyLine(p.files, totals.files, p.bytes, totals.bytes, Date.now() - at) : `listing: ${listed()} · copied ${fmtCount(p.files)} files so far`);
        },
      });
      if (streaming) {
        const applier = ap;
        const s = new StreamPlanner(l, opts, o.hosts.map((_, h) => remotes[h] !== null), (h, a) => {
          firstStart ||= Date.now();
          applier.enqueue(h, a);
        });
        for (const fn of toStream.splice(0)) fn(s);
        stream = s;
      }
      o.progress?.update(`listing: ${listed()}`);
    });
    const settled = await Promise.allSettled([...listings, started]);
    const failure = settled.find((x) => x.status === 'rejected');
    if (busy || failure) {
      stream?.stop();
      ap?.halt();
      await ap?.drain();
      if (busy) {
        o.progress?.stop(`${busy.host} is locked`);
        out.busy = busy;
        return finish(out, EXIT.BUSY, t0);
      }
      throw (failure as PromiseRejectedResult).reason;
    }
    stream?.stop();
    const applier = ap!;
    for (const h of involved) if (remotes[h]) reports[h]!.entries = l.count(h);
    o.log.debug(`listed ${l.rows} paths in ${Date.now() - lt}ms (${listed()}); ${applier.progress.actions} change(s) done meanwhile${firstStart ? `, the first started after ${firstStart - lt}ms` : ''}`);

    // 4. plan
    o.progress?.update(`planning: comparing ${fmtCount(l.rows)} paths`);
    const live = o.hosts.map((_, h) => remotes[h] !== null && !applier.isDown(h));
    const pt = Date.now();
    const first = reconcile(l, { ...opts, live, roots, maxDelete: o.maxDelete });
    o.log.debug(`planned in ${Date.now() - pt}ms: ${first.plan.differing} path(s) differ`);
    out.plan = first.plan;
    first.plan.hosts.forEach((hp, h) => (reports[h]!.planned = hp.counts));
    if (first.stop || o.dryRun || first.plan.differing === 0) {
      await applier.drain(); // (nothing was started unless the listing said all was well)
      if (first.stop) {
        o.progress?.stop('stopped before changing anything');
        out.stop = first.stop;
        return finish(out, EXIT.FAILED, t0);
      }
      o.progress?.stop(first.plan.differing === 0 ? `compared ${fmtCount(l.rows)} paths: nothing to do` : `planned ${first.plan.differing} path(s)`);
      return finish(out, exitFor(out), t0);
    }

    // 5. apply the rest (what was not started early), then plan again what changed meanwhile (or lost its source)
    totals = {
      files: first.plan.hosts.reduce((s, hp) => s + hp.counts.copy, 0),
      bytes: first.plan.hosts.reduce((s, hp) => s + hp.counts.bytes, 0),
    };
    const { files, bytes } = totals;
    if (!stream) at = Date.now();
    const rest = stream ? withoutStarted(first.plan, l, stream) : first.plan;
    const applyStart = Date.now();
    await applier.drain();
    o.progress?.update(copyLine(applier.progress.files, files, applier.progress.bytes, bytes, Date.now() - at));
    await applier.apply(rest);
    out.rounds = 1;
    while (applier.changed.size > 0 && out.rounds < MAX_ROUNDS && !o.signal?.aborted) {
      const paths = topmost([...applier.changed]);
      applier.changed.clear();
      const again = new Listings(o.hosts.map((h) => h.name), 64);
      const up = o.hosts.map((_, h) => remotes[h] !== null && !applier.isDown(h));
      await Promise.all(
        involved.map(async (h) => {
          if (!up[h]) return;
          try {
            await listPaths(remotes[h]!, again, h, paths, { exclude: o.exclude, signal: o.signal });
          } catch (err) {
            if (classify(err) !== 'again') throw err;
            applier.markDown(h, err as Error);
            up[h] = false;
          }
        }),
      );
      const deleted = applier.done.reduce((s, c) => s + c.remove, 0);
      const next = reconcile(again, {
        mode: o.mode,
        delete: o.delete,
        conflicts: o.conflicts,
        live: up,
        safety: false,
        maxDelete: o.maxDelete === undefined ? undefined : Math.max(0, o.maxDelete - deleted),
      });
      if (next.stop) {
        o.log.warn(next.stop.message);
        for (const p of paths) applier.changed.add(p);
        break;
      }
      o.log.info(`${paths.length} path(s) changed while repairing: planned again (round ${out.rounds + 1})`);
      await applier.apply(next.plan);
      out.rounds++;
    }
    o.log.debug(`applied in ${Date.now() - applyStart}ms after the listing (${out.rounds} round${out.rounds === 1 ? '' : 's'})`);
    o.progress?.stop(copyLine(applier.progress.files, files, applier.progress.bytes, bytes, Date.now() - at, true));
    applier.done.forEach((c, h) => (reports[h]!.done = c));
    for (const [h, err] of applier.down) {
      reports[h]!.state = 'down';
      reports[h]!.error = err.message;
    }
    out.failed = applier.failed;
    out.unresolved = [...applier.changed].sort();
    if (o.signal?.aborted) out.unresolved.push('(interrupted)');
    return finish(out, exitFor(out), t0);
  } finally {
    const rt = Date.now();
    await Promise.all(locks.map((lk) => within(lk.release(), 5000).catch((e) => o.log.debug(`${lk.remote.name}: lock not released: ${(e as Error).message}`))));
    await Promise.all(remotes.map((r) => (r ? within(r.close(), 5000).catch(() => {}) : undefined)));
    o.log.debug(`locks released and connections closed in ${Date.now() - rt}ms`);
  }
}

/** the plan without the actions started early (by host and path) */
function withoutStarted(plan: RepairPlan, l: Listings, stream: StreamPlanner): RepairPlan {
  return {
    ...plan,
    hosts: plan.hosts.map((hp, h) => ({
      ...hp,
      actions: hp.actions.filter((a) => {
        const row = l.row(a.path);
        return row === undefined || !stream.wasStarted(h, row);
      }),
    })),
  };
}

function exitFor(out: RepairOutcome): ExitCode {
  if (out.failed.length || out.unresolved.length || out.hosts.some((h) => h.state === 'failed')) return EXIT.FAILED;
  if (out.hosts.some((h) => h.state === 'unreachable' || h.state === 'down')) return EXIT.PARTIAL;
  return EXIT.OK;
}

function finish(out: RepairOutcome, code: ExitCode, t0: number): RepairOutcome {
  out.code = code;
  out.elapsedMs = Date.now() - t0;
  return out;
}

/** the paths not under another path of the set (listing a directory covers what is in it) */
function topmost(paths: string[]): string[] {
  const sorted = [...new Set(paths)].sort();
  const out: string[] = [];
  for (const p of sorted) {
    const top = out[out.length - 1];
    if (top !== undefined && p.startsWith(top + '/')) continue;
    out.push(p);
  }
  return out;
}

function copyLine(files: number, totalFiles: number, bytes: number, totalBytes: number, ms: number, final = false): string {
  const rate = ms > 0 ? (bytes / ms) * 1000 : 0;
  const parts = [`files ${fmtCount(files)}/${fmtCount(totalFiles)}`, `${fmtBytes(bytes)}/${fmtBytes(totalBytes)}`];
  if (ms > 500) parts.push(`${fmtBytes(rate)}/s`);
  if (!final && rate > 0 && totalBytes > bytes) parts.push(`ETA ${Math.ceil((totalBytes - bytes) / rate)}s`);
  return `${final ? 'repaired' : 'repairing'}: ${parts.join(' · ')}${final ? ` in ${(ms / 1000).toFixed(1)}s` : ''}`;
}

/** p, or a rejection after ms (a host that stopped answering must not hold up the exit) */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`no answer within ${ms / 1000}s`)), ms)))]).finally(() => clearTimeout(t));
}
