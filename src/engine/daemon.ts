// `chain watch`: watch this host's root, batch what changed, push each batch to the successor.
// On start (no history) the whole tree is compared with the successor and only differences are
// sent. Paths the predecessor just wrote here (inbox) are forwarded at once. A stop signal lets the
// batch in flight finish (or abandons it cleanly after a grace period) and returns 0.
import type { Logger } from '../core/log.js';
import type { Remote } from '../transport/remote.js';
import type { ExcludeFn } from '../core/exclude.js';
import type { PendingChange } from '../core/types.js';
import { EXIT, type ExitCode } from '../core/exit-codes.js';
import { ChangeQueue } from './queue.js';
import { LinkMemory } from './memory.js';
import { Link, type Connector } from './link.js';
import { Applier, pushBatch, type PushStats } from './push.js';
import { syncTree } from './treesync.js';
import { clearInbox, drainInbox, sendManifest } from './inbox.js';
import { watchTree, watchDir } from './watcher.js';
import { INBOX_DIR } from '../core/names.js';
import { join } from 'node:path';

export interface WatchOptions {
  self: string;
  root: string;
  source: Remote;
  targetName: string;
  connect: Connector;
  intervalMs: number;
  exclude: ExcludeFn;
  deleteEnabled: boolean;
  log: Logger;
  /** progress of the startup compare */
  progress?: { start(text: string): void; update(text: string): void; stop(text: string): void };
  /** paths per pushed batch (large bursts are split so the next hop starts early) */
  batchSize?: number;
  /** how long a stop waits for the batch in flight */
  graceMs?: number;
}

export async function runWatch(o: WatchOptions, stop: AbortSignal): Promise<ExitCode> {
  const queue = new ChangeQueue(o.intervalMs);
  const memory = new LinkMemory();
  const link = new Link(o.targetName, o.connect, o.log);
  let fatal: Error | null = null;
  const halt = new AbortController();
  const onStop = () => {
    o.log.info('stopping: finishing the batch in flight');
    queue.flush();
    halt.abort();
  };
  stop.addEventListener('abort', onStop, { once: true });

  const watcher = await watchTree(o.root, {
    onEvents: (events) => queue.addEvents(events.filter((e) => !o.exclude(e.path))),
    onError: (err) => {
      fatal = err;
      halt.abort();
    },
    // the watcher may have lost events in a large burst (inotify overflow): compare those directories
    onRescan: (dirs) => {
      const now = Date.now();
      queue.addReady(dirs.filter((d) => !o.exclude(d)).map((path) => ({ path, kind: 'change' as const, since: now, at: now, tree: true })));
    },
  });
  const pullInbox = async () => queue.addReady((await drainInbox(o.root)).filter((c) => !o.exclude(c.path)));
  const inbox = await watchDir(join(o.root, INBOX_DIR), () => void pullInbox());

  try {
    const target = await link.get(halt.signal);
    if (target && !halt.signal.aborted) {
      await clearInbox(o.root);
      await startupSync(o, target, memory, link, halt.signal);
    }
    o.log.info(`watching ${o.root}, pushing to ${o.targetName} (interval ${o.intervalMs}ms)`);
    await pullInbox();
    await pushLoop(o, queue, memory, link, halt.signal);
  } catch (err) {
    fatal = err as Error;
  } finally {
    stop.removeEventListener('abort', onStop);
    await inbox.close().catch(() => {});
    await watcher.close().catch(() => {});
    await link.close();
    queue.close();
  }
  if (fatal) throw fatal;
  return EXIT.OK;
}

async function startupSync(o: WatchOptions, target: Remote, memory: LinkMemory, link: Link, signal: AbortSignal): Promise<void> {
  const started = Date.now();
  let entries = 0;
  const ap = new Applier({ source: o.source, target, exclude: o.exclude, deleteEnabled: false, memory, log: o.log });
  const line = (s: PushStats) => `compared ${entries} entries with ${o.targetName}; sent ${s.files} files (${fmtBytes(s.bytes)}), ${s.dirs} dirs, ${s.links} links`;
  o.progress?.start(`startup compare with ${o.targetName}`);
  let last = 0;
  ap.ctx.onProgress = (s) => {
    if (Date.now() - last > 200) {
      last = Date.now();
      o.progress?.update(line(s));
    }
  };
  await syncTree(ap, '', { onDir: (n) => (entries += n) });
  o.progress?.stop(`${line(ap.stats)} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  if (ap.changed.length) await sendManifest(target, o.self, ap.changed).catch(() => {});
  if (ap.linkError) {
    if (ap.linkError.verdict === 'die') throw ap.linkError.error;
    // the rest is compared again on the next start; events keep flowing meanwhile
    await link.broken(ap.linkError.error, signal);
  } else link.succeeded();
}

async function pushLoop(o: WatchOptions, queue: ChangeQueue, memory: LinkMemory, link: Link, signal: AbortSignal): Promise<void> {
  const batchSize = o.batchSize ?? 1000;
  let stopAt: number | null = null;
  for (;;) {
    if (signal.aborted) {
      stopAt ??= Date.now() + (o.graceMs ?? 10_000);
      if (queue.pending === 0 || Date.now() > stopAt) return;
    } else {
      await Promise.race([queue.whenReady(), abortPromise(signal)]);
      if (signal.aborted) continue;
    }
    const batch = queue.take(batchSize);
    if (batch.length === 0) {
      if (signal.aborted) return;
      continue;
    }
    const target = await link.get(signal);
    if (!target) {
      queue.addReady(batch);
      return;
    }
    const t0 = Date.now();
    const res = await pushBatch({ source: o.source, target, exclude: o.exclude, deleteEnabled: o.deleteEnabled, memory, log: o.log }, batch);
    if (res.changed.length) {
      await sendManifest(target, o.self, res.changed).catch((e) => o.log.debug(`inbox manifest not written: ${(e as Error).message}`));
      o.log.info(summary(o.targetName, res.stats, Date.now() - t0), { host: o.targetName, ...res.stats });
    }
    requeue(queue, res.retry);
    if (res.linkError) {
      if (res.linkError.verdict === 'die') throw res.linkError.error;
      if (signal.aborted) return;
      await link.broken(res.linkError.error, signal);
    } else link.succeeded();
  }
}

function requeue(queue: ChangeQueue, retry: PendingChange[]): void {
  if (retry.length) queue.addReady(retry);
}

function abortPromise(signal: AbortSignal): Promise<void> {
  return new Promise((r) => (signal.aborted ? r() : signal.addEventListener('abort', () => r(), { once: true })));
}

function summary(host: string, s: PushStats, ms: number): string {
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

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const u = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${u[i]}`;
}

