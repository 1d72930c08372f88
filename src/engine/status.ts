// The live state of a `watch` (or `push`) that status files, `chain status` and the Prometheus
// endpoint all read: one record per link. The daemon updates it; writers only read it.

export type LinkState = 'up' | 'down' | 'bypassed' | 'connecting';

export interface LinkStatus {
  /** the host this link pushes to */
  target: string;
  /** successor: the next host in the ring; bypass: a later host used while the successor is down */
  role: 'successor' | 'bypass';
  state: LinkState;
  /** paths waiting for this target */
  pending: number;
  /** when the oldest waiting change was first seen (ms since epoch), null when nothing waits */
  oldestPendingAt: number | null;
  lastSuccessAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  /** since the daemon started */
  filesPushed: number;
  bytesPushed: number;
  removed: number;
  errors: number;
  /** since when the target is unreachable (ms since epoch) */
  downSince: number | null;
}

export interface DaemonStatus {
  host: string;
  pid: number;
  command: 'watch' | 'push';
  config: string;
  root: string;
  ring: string[];
  startedAt: number;
  updatedAt: number;
  /** set by the last write of a clean stop (StatusWriter.stop); absent while the daemon runs */
  stoppedAt?: number;
  links: LinkStatus[];
}

export function newLink(target: string, role: LinkStatus['role']): LinkStatus {
  return {
    target, role, state: 'connecting', pending: 0, oldestPendingAt: null, lastSuccessAt: null, lastError: null, lastErrorAt: null,
    filesPushed: 0, bytesPushed: 0, removed: 0, errors: 0, downSince: null,
  };
}

/** lag: age in seconds of the oldest change still waiting (0 when nothing waits) */
export function lagSeconds(l: LinkStatus, now = Date.now()): number {
  return l.oldestPendingAt === null ? 0 : Math.max(0, (now - l.oldestPendingAt) / 1000);
}
