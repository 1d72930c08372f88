// `chain push`: one run for cron and systemd timers. Pushes what changed since the last run (from
// the watcher snapshot; the whole tree compared on the first run), plus whatever an earlier run or
// a stopped `watch` left in the link's journal, plus what the predecessor left in our inbox.
// When the successor is unreachable and bypass is on, the same changes go to the next reachable
// host so the ring keeps converging; the successor's share stays queued for the next run.
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../core/log.js';
import type { Remote } from '../transport/remote.js';
import { compileExclude } from '../core/exclude.js';
import { EXIT, type ExitCode } from '../core/exit-codes.js';
import { LinkRunner } from './runner.js';
import { pruneTrash } from './trash.js';
import type { Connector } from './link.js';
import { drainInbox } from './inbox.js';
import { eventsSince, writeSnapshot } from './watcher.js';
import type { RingView } from './daemon.js';
import type { DaemonStatus } from './status.js';

export interface PushOptions {
  view: RingView;
  connectTo: (host: string) => Connector;
  source: (root: string, name: string) => Remote;
  log: Logger;
  progress?: { start(text: string): void; update(text: string): void; stop(text: string): void };
  gate?: (target: Remote, signal: AbortSignal) => Promise<void>;
  /** called with the final status (for the status file) */
  onStatus?: (s: DaemonStatus) => void;
}

export async function runPush(o: PushOptions): Promise<ExitCode> {
  const v = o.view;
  const started = Date.now();
  const exclude = compileExclude(v.exclude);
  const mk = (target: string, role: 'successor' | 'bypass', journal: boolean) =>
    new LinkRunner({
      self: v.self, target, role, source: o.source(v.root, v.self), connect: o.connectTo(target), intervalMs: 0, exclude,
      deleteEnabled: v.deleteEnabled, log: o.log, journalFile: journal ? join(v.state, 'queue', `${target}.jsonl`) : undefined,
      memoryFile: join(v.state, 'memory', `${target}.mem`), conflicts: v.conflicts, trash: v.trashMs !== undefined && v.trashMs !== false,
      ringSize: v.ring.length, progress: o.progress, gate: o.gate,
    });
  const succ = mk(v.successor, 'successor', true);
  if (v.trashMs) await pruneTrash(v.root, v.trashMs).catch((e) => o.log.warn(`could not prune the trash: ${(e as Error).message}`));
  const snap = join(v.state, 'snapshot');
  const next = `${snap}.new`;
  let bypass: LinkRunner | null = null;
  try {
    // the new snapshot is taken first: whatever changes after it is found by the next run
    await writeSnapshot(v.root, next);
    const first = !existsSync(snap);
    if (!first) {
      const events = (await eventsSince(v.root, snap, exclude)) ?? [];
      succ.queue.addReady(events.map((e) => ({ path: e.path, kind: e.kind === 'delete' ? ('delete' as const) : ('change' as const), since: e.at, at: e.at })));
      o.log.info(`${events.length} change${events.length === 1 ? '' : 's'} since the last run`);
    } else {
      // no history: compare the whole tree with the successor (only differences are sent)
      succ.queue.addReady([{ path: '', kind: 'change', since: started, at: started, tree: true, deep: true }]);
      o.log.info('no earlier run: comparing the whole tree');
    }
    succ.queue.addReady((await drainInbox(v.root, (m) => o.log.warn(m))).filter((c) => !exclude(c.path)));
    // journaled: the snapshot can move on
    renameSync(next, snap);
    const waiting = succ.queue.snapshot();
    const outcome = await succ.drain();
    if (outcome === 'unreachable' && v.bypassMs !== false && v.bypassCandidates.length) {
      const target = v.bypassCandidates[0];
      o.log.warn(`${v.successor} unreachable: pushing to ${target} instead; ${succ.queue.pending} change(s) stay queued for ${v.successor}`);
      bypass = mk(target, 'bypass', false);
      bypass.queue.addReady(waiting);
      const b = await bypass.drain();
      if (b === 'unreachable') o.log.error(`${target} unreachable too; nothing was pushed`);
    }
    o.onStatus?.(status(v, started, succ, bypass));
    if (outcome === 'unreachable') return EXIT.PARTIAL;
    return outcome === 'failed' ? EXIT.FAILED : EXIT.OK;
  } finally {
    await succ.close();
    await bypass?.close();
  }
}

function status(v: RingView, started: number, succ: LinkRunner, bypass: LinkRunner | null): DaemonStatus {
  const links = [succ.refresh(), ...(bypass ? [bypass.refresh()] : [])];
  if (bypass && links[0].state !== 'up') links[0].state = 'bypassed';
  return { host: v.self, pid: process.pid, command: 'push', config: v.configFile, root: v.root, ring: v.ring, startedAt: started, updatedAt: Date.now(), links };
}
