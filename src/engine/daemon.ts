// `chain watch`: watch this host's root, batch what changed, push each batch to the successor.
//   start:   subscribe first (nothing is missed), then catch up: with a watcher snapshot, queue the
//            events since it (only those are sent); without one, compare the whole tree with the
//            successor and send only differences. The journal replays what was waiting.
//   run:     local events wait `interval`; paths the predecessor just wrote here (inbox) go at once.
//   outage:  the successor's queue is kept on disk; after `bypass` a second link pushes to the next
//            host so the rest of the ring converges; it is dropped when the successor is back.
//   SIGHUP:  the ring is rebuilt from the config file (reload()).
//   stop:    the batch in flight finishes (or is abandoned after a grace period), a snapshot is
//            written, and run() resolves.
// Snapshots: the one written at a clean stop is exact: parcel's live tree while that has no blind
// spots (no directory created, no burst since the start), else a fresh crawl of the root. The one
// after the first compare and the periodic ones (for a crash) are the live tree, which costs no
// crawl and no second tree in memory (~23 MB and ~1 s of CPU at 100,000 files) but may miss what
// the live watch cannot see (watcher.ts: paths inside directories moved in while watching).
// Catching up at start diffs the snapshot against the live tree, a fresh crawl at that moment.
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/log.js';
import type { Remote } from '../transport/remote.js';
import type { FsEvent, PendingChange } from '../core/types.js';
import { compileExclude, type ExcludeFn } from '../core/exclude.js';
import { INBOX_DIR, TRASH_DIR } from '../core/names.js';
import { pruneTrash } from './trash.js';
import { LinkRunner } from './runner.js';
import type { Connector } from './link.js';
import { clearInbox, drainInbox } from './inbox.js';
import { watchDir, watchTree, writeSnapshot, type TreeWatch, type Watch } from './watcher.js';
import type { DaemonStatus } from './status.js';
import { sleep } from './backoff.js';
import { Holds, HOLD_MAX_MS } from './holds.js';
import { BurstSettle } from './burst.js';

/** What the daemon needs to know of the ring; re-read on reload. */
export interface RingView {
  configFile: string;
  self: string;
  root: string;
  state: string;
  ring: string[];
  successor: string;
  /** hosts to try, in order, when bypassing the successor (not self, not the successor) */
  bypassCandidates: string[];
  intervalMs: number;
  bypassMs: number | false;
  exclude: string[];
  deleteEnabled: boolean;
  /** config `conflicts` (default newer) */
  conflicts?: 'newer' | 'keep';
  /** config `trash`: ms to keep what pushes replace or remove, false = no trash (default off here) */
  trashMs?: number | false;
}

export interface DaemonOptions {
  /** reads the config and resolves this host's place in the ring (throws ConfigError when bad) */
  resolve: () => RingView;
  connectTo: (host: string) => Connector;
  source: (root: string, name: string) => Remote;
  log: Logger;
  progress?: LinkRunnerProgress;
  /** how often a watcher snapshot is written while running (default 5 min) */
  snapshotEveryMs?: number;
  graceMs?: number;
  gate?: (target: Remote, signal: AbortSignal) => Promise<void>;
}
type LinkRunnerProgress = { start(text: string): void; update(text: string): void; stop(text: string): void };

/** a burst is over when no event came under its directories for this long (or 2 intervals) */
const BURST_SETTLE_MS = 2_000;

export class WatchDaemon {
  private view: RingView;
  private exclude: ExcludeFn;
  private successor!: LinkRunner;
  private bypass: { runner: LinkRunner; halt: AbortController; done: Promise<void> } | null = null;
  private linkHalt = new AbortController();
  private watcher: TreeWatch | null = null;
  private inbox: Watch | null = null;
  private readonly startedAt = Date.now();
  private fatal: Error | null = null;
  private nextView: RingView | null = null;
  private stopping = false;
  private readonly stopped = new AbortController();
  /** what our predecessors' batches are writing here now (engine/holds.ts) */
  private readonly holds: Holds;
  /** a burst's top directories, compared again once it has settled (engine/burst.ts) */
  private readonly settle: BurstSettle;

  constructor(private readonly o: DaemonOptions) {
    this.view = o.resolve();
    this.exclude = compileExclude(this.view.exclude);
    this.holds = new Holds(Math.max(HOLD_MAX_MS, 5 * this.view.intervalMs));
    this.settle = new BurstSettle(Math.max(BURST_SETTLE_MS, 2 * this.view.intervalMs), (again) => {
      if (this.stopping) return;
      this.successor.queue.addRescan(again);
      this.bypass?.runner.queue.addRescan(again);
    });
  }

  private get snapshotFile(): string {
    return join(this.view.state, 'snapshot');
  }

  private makeRunner(target: string, role: 'successor' | 'bypass', journal: boolean): LinkRunner {
    const v = this.view;
    return new LinkRunner({
      self: v.self,
      target,
      role,
      source: this.o.source(v.root, v.self),
      connect: this.o.connectTo(target),
      intervalMs: v.intervalMs,
      exclude: this.exclude,
      deleteEnabled: v.deleteEnabled,
      log: this.o.log,
      journalFile: journal ? join(v.state, 'queue', `${target}.jsonl`) : undefined,
      memoryFile: join(v.state, 'memory', `${target}.mem`),
      conflicts: v.conflicts,
      trash: v.trashMs !== undefined && v.trashMs !== false,
      ringSize: v.ring.length,
      progress: this.o.progress,
      gate: this.o.gate,
      holds: this.holds,
    });
  }

  status(): DaemonStatus {
    const links = [this.successor?.refresh(), this.bypass?.runner.refresh()].filter((l) => !!l);
    if (this.bypass && links[0] && links[0].state === 'down') links[0].state = 'bypassed';
    return {
      host: this.view.self, pid: process.pid, command: 'watch', config: this.view.configFile, root: this.view.root,
      ring: this.view.ring, startedAt: this.startedAt, updatedAt: Date.now(), links,
    };
  }

  /** stop: finish the batch in flight, snapshot, close */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.o.log.info('stopping: finishing the batch in flight');
    this.linkHalt.abort();
    this.bypass?.halt.abort();
  }

  async run(): Promise<void> {
    const v = this.view;
    this.successor = this.makeRunner(v.successor, 'successor', true);
    this.watcher = await watchTree(v.root, {
      onEvents: (events) => this.onEvents(events),
      onError: (err) => {
        this.fatal ??= err;
        this.stop();
      },
      // the watcher may have lost events in a large burst (inotify overflow): compare those directories
      onRescan: (dirs) => {
        const now = Date.now();
        const changes = dirs.filter((d) => !this.exclude(d)).map((path) => ({ path, kind: 'change' as const, since: now, at: now, tree: true }));
        this.successor.queue.addRescan(changes);
        this.bypass?.runner.queue.addRescan(changes);
        this.settle.add(changes.map((c) => c.path), now);
      },
    });
    this.inbox = await watchDir(join(v.root, INBOX_DIR), () => void this.pullInbox());
    const ticker = setInterval(() => this.tick(), 1000);
    const snapshots = setInterval(() => void this.snapshot(2000), this.o.snapshotEveryMs ?? 5 * 60_000);
    const pruner = setInterval(() => void this.pruneTrash(), 3_600_000);
    void this.pruneTrash();
    try {
      const haveHistory = existsSync(this.snapshotFile);
      if (haveHistory) await this.catchUp();
      await this.pullInbox();
      if (!haveHistory && !this.stopping) {
        await clearInbox(v.root);
        await this.successor.startupSync(this.linkHalt.signal);
        if (!this.stopping) await this.snapshot(0);
      }
      this.o.log.info(`watching ${v.root}, pushing to ${v.successor} (interval ${v.intervalMs}ms)`);
      for (;;) {
        await this.successor.run(this.linkHalt.signal, this.o.graceMs);
        const next = this.nextView;
        if (this.stopping || this.fatal || !next) break;
        this.nextView = null;
        await this.swap(next);
      }
    } catch (err) {
      this.fatal ??= err as Error;
    } finally {
      clearInterval(ticker);
      this.settle.cancel();
      clearInterval(snapshots);
      clearInterval(pruner);
      await this.stopBypass();
      // a fresh crawl only when the live tree may have blind spots: it costs a second tree
      if (!this.fatal || this.stopping) await this.snapshot(0, !this.watcher?.exact).catch((e) => this.o.log.warn(`could not write the watcher snapshot: ${(e as Error).message}`));
      await this.inbox?.close().catch(() => {});
      await this.watcher?.close().catch(() => {});
      await this.successor.close();
      this.stopped.abort();
    }
    if (this.fatal) throw this.fatal;
  }

  private onEvents(events: FsEvent[]): void {
    const mine = events.filter((e) => !this.exclude(e.path));
    if (!mine.length) return;
    // a pending burst rescan waits while its directories still change; many small batches are a burst too
    this.settle.activity(mine);
    this.successor.queue.addEvents(mine);
    this.bypass?.runner.queue.addEvents(mine);
  }

  private toAll(changes: PendingChange[]): void {
    if (!changes.length) return;
    this.successor.queue.addReady(changes);
    this.bypass?.runner.queue.addReady(changes);
  }

  private async pullInbox(): Promise<void> {
    let holdsChanged = false;
    const changes = await drainInbox(
      this.view.root,
      (m) => this.o.log.warn(m),
      (from, notice) => {
        this.holds.update(from, notice);
        holdsChanged ||= !!notice.release;
      },
    );
    this.toAll(changes.filter((c) => !this.exclude(c.path)));
    if (holdsChanged) this.releaseHeld();
  }

  private releaseHeld(): void {
    this.successor?.releaseHeld();
    this.bypass?.runner.releaseHeld();
  }

  /** changes made while the daemon was down, from the last snapshot: only those are sent */
  private async catchUp(): Promise<void> {
    const t0 = Date.now();
    const events = await this.watcher!.eventsSince(this.snapshotFile, this.exclude);
    if (!events) return;
    const changes = events.map((e) => ({ path: e.path, kind: e.kind === 'delete' ? ('delete' as const) : ('change' as const), since: e.at, at: e.at }));
    this.successor.queue.addReady(changes);
    this.o.log.info(`catching up: ${changes.length} change${changes.length === 1 ? '' : 's'} since the last run (${Date.now() - t0}ms)`);
  }

  /**
   * Write the watcher snapshot: a fresh crawl (`fresh`, at a clean stop) or the live tree. It
   * becomes the catch-up point only after `settleMs`, when every event that happened before it has
   * surely been delivered and journaled.
   */
  private async snapshot(settleMs: number, fresh = false): Promise<void> {
    const tmp = `${this.snapshotFile}.new`;
    if (fresh || !this.watcher) await writeSnapshot(this.view.root, tmp);
    else await this.watcher.snapshot(tmp);
    if (settleMs) await sleep(settleMs, this.stopped.signal);
    // the snapshot becomes the catch-up point only once every event before it is on disk in a queue
    await this.successor?.durable();
    await this.bypass?.runner.durable();
    if (existsSync(tmp)) renameSync(tmp, this.snapshotFile);
  }

  /** this host's own trash: day directories older than the retention go (at start, then hourly) */
  private async pruneTrash(): Promise<void> {
    const keep = this.view.trashMs;
    if (keep === undefined || keep === false) return;
    try {
      const gone = await pruneTrash(this.view.root, keep);
      if (gone.length) this.o.log.info(`trash: removed ${gone.join(', ')} from ${join(this.view.root, TRASH_DIR)}`);
    } catch (err) {
      this.o.log.warn(`could not prune ${join(this.view.root, TRASH_DIR)}: ${(err as Error).message}`);
    }
  }

  /** once a second: start or end the bypass; let go of what a lapsed hold kept */
  private tick(): void {
    if (this.holds.active) this.releaseHeld();
    const v = this.view;
    const succ = this.successor.link;
    if (this.bypass && succ.up) {
      this.o.log.info(`${v.successor} is back: ending the bypass through ${this.bypass.runner.o.target}`);
      void this.stopBypass();
      return;
    }
    if (this.bypass || this.stopping || v.bypassMs === false || succ.up || succ.downSince === null) return;
    if (Date.now() - succ.downSince < v.bypassMs) return;
    const target = v.bypassCandidates[0];
    if (!target) return;
    const runner = this.makeRunner(target, 'bypass', false);
    const seeded = this.successor.queue.snapshot();
    runner.queue.addReady(seeded);
    this.o.log.warn(
      `${v.successor} unreachable for ${Math.round((Date.now() - succ.downSince) / 1000)}s: bypassing it, pushing to ${target}; ${seeded.length} pending change(s) for ${v.successor} are kept until it returns`,
    );
    const halt = new AbortController();
    const done = runner.run(halt.signal, 0).catch((err) => this.o.log.error(`bypass link to ${target} failed: ${(err as Error).message}`));
    this.bypass = { runner, halt, done };
  }

  private async stopBypass(): Promise<void> {
    const b = this.bypass;
    if (!b) return;
    this.bypass = null;
    b.halt.abort();
    await b.done;
    await b.runner.close();
  }

  /** SIGHUP: rebuild the ring from the config file; on a bad config keep the running one */
  reload(): void {
    let next: RingView;
    try {
      next = this.o.resolve();
    } catch (err) {
      this.o.log.error(`reload failed, keeping the running config: ${(err as Error).message}`);
      return;
    }
    const prev = this.view;
    if (next.root !== prev.root || next.self !== prev.self || next.state !== prev.state) {
      this.o.log.error(`reload: root, host name or state dir changed (${prev.root} → ${next.root}); restart chain watch to apply that`);
      return;
    }
    // the running link finishes its batch, then run() swaps in a link built from the new ring
    this.nextView = next;
    this.successor?.stopNow();
  }

  private async swap(next: RingView): Promise<void> {
    const prev = this.view;
    await this.stopBypass();
    this.view = next;
    this.exclude = compileExclude(next.exclude);
    const old = this.successor;
    const waiting = old.queue.snapshot();
    await old.close({ destroyJournal: old.o.target !== next.successor });
    this.successor = this.makeRunner(next.successor, 'successor', true);
    this.successor.queue.addReady(waiting);
    this.o.log.info(`reloaded ${next.configFile}: ring ${next.ring.join(' → ')} → ${next.ring[0]}; pushing to ${next.successor}`);
    if (prev.successor !== next.successor) {
      // a new neighbour may lack anything: compare the whole tree with it
      this.successor.queue.addReady([{ path: '', kind: 'change', since: Date.now(), at: Date.now(), tree: true, deep: true }]);
    }
  }
}
