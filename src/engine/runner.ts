// One link's worker: its durable queue, its memory of what was pushed, its connection and its
// status; the loop that takes batches off the queue and pushes them. The daemon owns one for the
// successor and, while the successor is down past `bypass`, one for the next reachable host.
import type { Remote } from '../transport/remote.js';
import type { ExcludeFn } from '../core/exclude.js';
import type { Logger } from '../core/log.js';
import type { PendingChange } from '../core/types.js';
import { ChangeQueue, type HoldCheck } from './queue.js';
import { holdPrefixes } from './holds.js';
import { Journal } from './journal.js';
import { LinkMemory } from './memory.js';
import { Link, type Connector } from './link.js';
import { Applier, pushBatch, type PushContext, type PushResult, type PushStats } from './push.js';
import { syncTree } from './treesync.js';
import { sendManifest } from './inbox.js';
import { newLink, type LinkStatus } from './status.js';
import { fmtBytes } from './format.js';
import { classify } from '../core/classify.js';

/** how often trees kept by a hold look whether it is over (see LinkRunner.afterHoldTimer) */
const AFTER_HOLD_CHECK_MS = 1000;

export interface RunnerOptions {
  self: string;
  target: string;
  role: LinkStatus['role'];
  source: Remote;
  connect: Connector;
  intervalMs: number;
  exclude: ExcludeFn;
  deleteEnabled: boolean;
  log: Logger;
  /** journal file; none = in memory only */
  journalFile?: string;
  /** link memory file (engine/memory.ts); none = in memory only */
  memoryFile?: string;
  /** config `conflicts`, `trash` (on/off) and the number of hosts in the ring, for pushes */
  conflicts?: 'newer' | 'keep';
  trash?: boolean;
  ringSize?: number;
  batchSize?: number;
  /** per-path failures are tried again after this long */
  retryFailedMs?: number;
  /** before each batch: resolves when the target may be written (a repair lock pauses us) */
  gate?: (target: Remote, signal: AbortSignal) => Promise<void>;
  progress?: { start(text: string): void; update(text: string): void; stop(text: string): void };
  /** the predecessor's holds on this host (engine/holds.ts): our own changes under them wait */
  holds?: HoldCheck;
}

export class LinkRunner {
  readonly queue: ChangeQueue;
  readonly memory: LinkMemory;
  readonly link: Link;
  readonly status: LinkStatus;
  private readonly journal?: Journal;
  private readonly failures = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private quit = false;
  /** trees not sent on because the predecessor was still writing into them: compared after its hold */
  private readonly afterHold = new Set<string>();
  /** the last batch's hold on the target was not released: the next batch went on at once (pushOne) */
  private holdOpen = false;
  // while trees wait there: looks once a second whether their hold is over. The release manifest
  // (the daemon calls releaseHeld) is the usual end, but a hold can also lapse unannounced (a
  // sender that stalled or died), and nothing else would then let those trees go.
  private afterHoldTimer: NodeJS.Timeout | null = null;

  constructor(readonly o: RunnerOptions) {
    this.journal = o.journalFile ? new Journal(o.journalFile) : undefined;
    // a file that arrived and was deleted here before our window closed: its create (the
    // predecessor writing it) and delete must not cancel out, or the ring keeps it everywhere else
    this.queue = new ChangeQueue(o.intervalMs, this.journal, o.holds, (path) => {
      const held = this.memory.get(path);
      return held !== undefined && held !== null;
    });
    this.memory = new LinkMemory({ file: o.memoryFile, warn: (m) => o.log.warn(m) });
    this.link = new Link(o.target, o.connect, o.log);
    this.status = newLink(o.target, o.role);
  }

  /** refresh the status record from the queue and the link */
  refresh(): LinkStatus {
    const s = this.status;
    s.pending = this.queue.pending;
    s.oldestPendingAt = this.queue.oldest();
    s.lastSuccessAt = this.link.lastSuccess;
    s.lastError = this.link.lastError;
    s.state = this.link.up ? 'up' : this.link.downSince !== null ? 'down' : 'connecting';
    s.downSince = this.link.downSince;
    return s;
  }

  /** compare the whole tree with the target and send what differs (first start without history) */
  async startupSync(signal: AbortSignal): Promise<void> {
    const target = await this.link.get(signal);
    if (!target) return;
    // a repair holding a lock pauses the first compare too
    if (!(await this.passGate(target, signal))) {
      this.queue.addReady([{ path: '', kind: 'change', since: Date.now(), at: Date.now(), tree: true, deep: true }]);
      return;
    }
    const started = Date.now();
    let entries = 0;
    const ap = new Applier({ ...this.context(target), deleteEnabled: false, ...this.policy });
    const line = (s: PushStats) => `compared ${entries} entries with ${this.o.target}; sent ${s.files} files (${fmtBytes(s.bytes)}), ${s.dirs} dirs, ${s.links} links`;
    this.o.progress?.start(`startup compare with ${this.o.target}`);
    let last = 0;
    ap.ctx.onProgress = (s) => {
      if (Date.now() - last > 200) {
        last = Date.now();
        this.o.progress?.update(line(s));
      }
    };
    await syncTree(ap, '', { onDir: (n) => (entries += n) });
    this.o.progress?.stop(`${line(ap.stats)} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    const res = await ap.result();
    this.account(res);
    // a file that changed while sent goes again now; one that failed (disk full, permission
    // denied) is journaled and retried later, as in a batch: no later event may ever name it
    this.settle([], res);
    if (res.changed.length) await sendManifest(target, this.o.self, res.changed).catch(() => {});
    await this.queue.durable();
    if (ap.linkError) {
      if (ap.linkError.verdict === 'die') throw ap.linkError.error;
      // not finished: queue a rescan of the whole tree so the loop completes it once the link is back
      this.queue.addReady([{ path: '', kind: 'change', since: started, at: started, tree: true, deep: true }]);
      await this.link.broken(ap.linkError.error, signal);
    } else this.link.succeeded();
  }

  /** push batches until the signal aborts and (then) the queue is empty or the grace period ends */
  async run(signal: AbortSignal, graceMs = 10_000): Promise<void> {
    const batchSize = this.o.batchSize ?? 1000;
    let stopAt: number | null = null;
    for (;;) {
      if (this.quit) return;
      if (signal.aborted) {
        stopAt ??= Date.now() + graceMs;
        if (this.queue.pending === 0 || Date.now() > stopAt || !this.link.up) return;
        this.queue.flush(true);
      } else {
        const stop = aborted(signal);
        await Promise.race([this.queue.whenReady(), stop.promise]);
        stop.cancel();
        if (signal.aborted || this.quit) continue;
      }
      const target = await this.link.get(signal);
      if (!target) return;
      // a repair holding this host's or the target's lock pauses us before anything leaves the queue
      if (!(await this.passGate(target, signal))) continue;
      const batch = this.queue.take(batchSize);
      if (batch.length === 0) continue;
      const res = await this.pushOne(target, batch);
      this.settle(batch, res);
      if (res.linkError) {
        if (res.linkError.verdict === 'die') throw res.linkError.error;
        if (signal.aborted) return;
        await this.link.broken(res.linkError.error, signal);
      } else this.link.succeeded();
    }
  }

  /** what a hold on this host ended or outlived lets go: our own changes, and the trees they kept */
  releaseHeld(): void {
    this.queue.releaseHeld();
    if (this.afterHold.size > 0) {
      const now = Date.now();
      const back: PendingChange[] = [];
      for (const path of this.afterHold) {
        if (this.o.holds?.covers(path)) continue;
        this.afterHold.delete(path);
        back.push({ path, kind: 'change', since: now, at: now, tree: true });
      }
      if (back.length) this.queue.addReady(back);
    }
    if (this.afterHold.size === 0 && this.afterHoldTimer) {
      clearInterval(this.afterHoldTimer);
      this.afterHoldTimer = null;
    }
  }

  /** one batch: push it, announce what is not announced yet, log it, count it. A batch of some
   *  size holds the paths it writes under on the target until its last manifest (engine/holds.ts). */
  private async pushOne(target: Remote, batch: PendingChange[]): Promise<PushResult> {
    const t0 = Date.now();
    const unwritten = (e: unknown) => this.o.log.debug(`inbox manifest not written on ${this.o.target}: ${(e as Error).message}`);
    const hold = holdPrefixes(batch);
    // (the hold goes with the batch's first write, not awaited: it is a hint, needed on the target
    // before its own window closes, and a batch that only finds everything in place needs none)
    let holding: Promise<void> | undefined;
    const beforeWrite = hold ? () => void (holding = sendManifest(target, this.o.self, [], { hold }).catch(unwritten)) : undefined;
    const res = await pushBatch({ ...this.context(target), ...this.policy, beforeWrite }, batch);
    await holding;
    // A hold goes on into the next batch when that one starts at once (more is ready): released in
    // between, the target's kept-back trees would be compared and sent on, as its own, while our
    // next batch was still writing into them (traced: 4,074 of a 10,000-file burst went on that way
    // from host2, and host3 then looked them up on host1). The next batch's hold replaces this one;
    // the last batch of the run releases it.
    const held = !!holding || this.holdOpen;
    this.holdOpen = held && !res.linkError && this.queue.readyCount > 0;
    if (res.changed.length || held) await sendManifest(target, this.o.self, res.changed, { release: held && !this.holdOpen }).catch(unwritten);
    if (worked(res.stats)) this.o.log.info(summary(this.o.target, res.stats, Date.now() - t0), { host: this.o.target, link: `${this.o.self}->${this.o.target}`, ...res.stats });
    this.account(res);
    return res;
  }

  /** what every push over this link shares; manifests stream to the target while work goes on */
  private context(target: Remote): PushContext {
    return {
      source: this.o.source,
      target,
      exclude: this.o.exclude,
      deleteEnabled: this.o.deleteEnabled,
      memory: this.memory,
      log: this.o.log,
      stream: (changes) => sendManifest(target, this.o.self, changes),
      arrivedOf: (path) => this.queue.arrival(path),
      deferTree: (path) => {
        if (!this.o.holds?.covers(path)) return false;
        this.afterHold.add(path);
        if (!this.afterHoldTimer) {
          this.afterHoldTimer = setInterval(() => this.releaseHeld(), AFTER_HOLD_CHECK_MS);
          this.afterHoldTimer.unref();
        }
        return true;
      },
    };
  }

  /** waits while a lock is held; false when the link broke meanwhile (already handled) */
  private async passGate(target: Remote, signal: AbortSignal): Promise<boolean> {
    if (!this.o.gate) return true;
    try {
      await this.o.gate(target, signal);
      return true;
    } catch (err) {
      if (classify(err) === 'die') throw err;
      await this.link.broken(err as Error, signal);
      return false;
    }
  }

  /**
   * One-shot: push everything waiting, connecting once; for `chain push`.
   * 'done' all delivered, 'failed' some paths failed on their own, 'unreachable' the link is down
   * (what was not delivered stays in the journal for the next run).
   */
  async drain(): Promise<'done' | 'failed' | 'unreachable'> {
    const target = await this.link.tryOnce();
    if (!target) return 'unreachable';
    if (this.o.gate) {
      try {
        await this.o.gate(target, new AbortController().signal);
      } catch (err) {
        if (classify(err) === 'die') throw err;
        return 'unreachable';
      }
    }
    let failed = false;
    const retries = new Map<string, number>();
    for (;;) {
      this.queue.flush(true);
      const batch = this.queue.take(this.o.batchSize ?? 1000);
      if (batch.length === 0) break;
      const res = await this.pushOne(target, batch);
      // per-path failures stay in the journal (not settled) for the next run; one found inside a
      // tree compare was never in it: put it there, or the next run would not know of it
      const failedPaths = new Set(res.failed.map((f) => f.path));
      const again = new Set(res.retry.map((c) => c.path));
      const inBatch = new Set(batch.map((c) => c.path));
      const now = Date.now();
      this.queue.keep(res.failed.filter((f) => !inBatch.has(f.path)).map((f) => ({ path: f.path, kind: 'change' as const, since: now, at: now })));
      failed ||= res.failed.length > 0;
      this.queue.settle(batch.filter((c) => !failedPaths.has(c.path) && !again.has(c.path)).map((c) => c.path));
      if (res.linkError) {
        if (res.linkError.verdict === 'die') throw res.linkError.error;
        this.link.lastError = res.linkError.error.message;
        this.link.up = false;
        return 'unreachable';
      }
      // files that changed while sent go round again, a few times; then they wait for the next run
      const more = res.retry.filter((c) => (retries.set(c.path, (retries.get(c.path) ?? 0) + 1).get(c.path) ?? 0) <= 3);
      if (more.length) this.queue.addReady(more);
      failed ||= more.length < res.retry.length;
    }
    this.link.succeeded();
    await this.queue.durable(); // what was delivered is marked so on disk before we say so
    return failed ? 'failed' : 'done';
  }

  /** leave run() after the batch in flight, keeping the queue (a reload hands it to a new runner) */
  stopNow(): void {
    this.quit = true;
    this.queue.wake();
  }

  private get policy() {
    return { conflicts: this.o.conflicts, trash: this.o.trash, ringSize: this.o.ringSize };
  }

  private account(res: PushResult): void {
    this.saveMemory(false); // after every batch: written when due (every few minutes, or a large batch)
    this.status.filesPushed += res.stats.files;
    this.status.bytesPushed += res.stats.bytes;
    this.status.removed += res.stats.removed;
    this.status.errors += res.failed.length + (res.linkError ? 1 : 0);
    if (res.failed.length) {
      const f = res.failed[res.failed.length - 1];
      this.status.lastError = `${f.path}: ${f.error.message}`;
      this.status.lastErrorAt = Date.now();
    }
    if (res.linkError) this.status.lastErrorAt = Date.now();
  }

  /** what left the queue for good; what goes back (now, or later for per-path failures) */
  private settle(batch: PendingChange[], res: PushResult): void {
    const again = new Set(res.retry.map((c) => c.path));
    const failed = new Set(res.failed.map((f) => f.path));
    if (res.retry.length) this.queue.addReady(res.retry);
    for (const f of res.failed) {
      const n = (this.failures.get(f.path) ?? 0) + 1;
      this.failures.set(f.path, n);
      let change = batch.find((c) => c.path === f.path);
      if (!change) {
        // failed inside a tree compare: on disk too, so a restart before the retry does not forget it
        change = { path: f.path, kind: 'change' as const, since: Date.now(), at: Date.now() };
        this.queue.keep([change]);
      }
      const retry = change;
      // a path that fails on its own is tried again later, less and less often; it stays in the journal meanwhile
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.queue.addReady([retry]);
      }, Math.min(10 * 60_000, (this.o.retryFailedMs ?? 30_000) * 2 ** Math.min(n - 1, 5)));
      t.unref();
      this.timers.add(t);
    }
    const delivered = batch.filter((c) => !again.has(c.path) && !failed.has(c.path)).map((c) => c.path);
    for (const p of delivered) this.failures.delete(p);
    this.queue.settle(delivered);
  }

  /** resolves when every change this link's queue recorded so far is on disk (its journal); the
   *  daemon waits for it before a watcher snapshot may say those events were handled */
  durable(): Promise<void> {
    return this.queue.durable();
  }

  async close(opts: { destroyJournal?: boolean } = {}): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.afterHoldTimer) clearInterval(this.afterHoldTimer);
    this.afterHoldTimer = null;
    await this.queue.close();
    if (opts.destroyJournal) await this.journal?.destroy();
    this.saveMemory(true);
    await this.link.close();
  }

  private saveMemory(now: boolean): void {
    try {
      if (now) this.memory.save();
      else this.memory.checkpoint();
    } catch (err) {
      this.o.log.warn(`could not save what was pushed to ${this.o.target} (${this.memory.file}): ${(err as Error).message}`);
    }
  }
}

/** resolves on abort; cancel() removes the listener (one wait per batch must not pile them up) */
function aborted(signal: AbortSignal): { promise: Promise<void>; cancel: () => void } {
  let cancel = () => {};
  const promise = new Promise<void>((r) => {
    if (signal.aborted) return r();
    const on = () => r();
    signal.addEventListener('abort', on, { once: true });
    cancel = () => signal.removeEventListener('abort', on);
  });
  return { promise, cancel };
}

function worked(s: PushStats): boolean {
  return s.files + s.dirs + s.links + s.renamed + s.removed + s.attrs > 0;
}

export function summary(host: string, s: PushStats, ms: number): string {
  const parts = [
    s.files && `${s.files} file${s.files === 1 ? '' : 's'} (${fmtBytes(s.bytes)})`,
    s.dirs && `${s.dirs} dir${s.dirs === 1 ? '' : 's'}`,
    s.links && `${s.links} link${s.links === 1 ? '' : 's'}`,
    s.renamed && `${s.renamed} moved`,
    s.removed && `${s.removed} removed`,
    s.attrs && `${s.attrs} attrs`,
  ].filter(Boolean);
  return `pushed ${parts.join(', ')} to ${host} in ${(ms / 1000).toFixed(2)}s`;
}
