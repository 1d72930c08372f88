// One link: this host → a target host. Owns the connection (opened lazily, reopened after
// trouble with backoff), the link's queue and its memory of what was pushed.
import type { Remote } from '../transport/remote.js';
import type { Logger } from '../core/log.js';
import { classify } from '../core/classify.js';
import { Backoff, sleep } from './backoff.js';

export type Connector = () => Promise<Remote>;

export class Link {
  private remote: Remote | null = null;
  private readonly backoff = new Backoff();
  up = false;
  lastError: string | null = null;
  lastSuccess: number | null = null;
  /** since when the target has been unreachable; null while up (or never tried) */
  downSince: number | null = null;

  constructor(
    readonly targetName: string,
    private readonly connector: Connector,
    private readonly log: Logger,
  ) {}

  /**
   * The connected remote; retries with backoff until connected or aborted.
   * Throws only for errors retrying cannot fix (classified "die") or when aborted (returns null).
   */
  async get(signal: AbortSignal): Promise<Remote | null> {
    while (!this.remote) {
      if (signal.aborted) return null;
      try {
        this.remote = await this.connector();
        if (!this.up) this.log.info(`connected to ${this.targetName}`, { host: this.targetName });
        this.up = true;
        this.downSince = null;
        // the backoff is reset by succeeded(), not here: a host that accepts the connection and
        // then fails every batch (its root missing, say) must not be reconnected in a tight loop
      } catch (err) {
        if (classify(err) === 'die') throw err;
        this.markDown(err as Error);
        const wait = this.backoff.next();
        this.log.warn(`${this.targetName} unreachable: ${(err as Error).message}; retrying in ${(wait / 1000).toFixed(1)}s`, { host: this.targetName });
        await sleep(wait, signal);
      }
    }
    return this.remote;
  }

  /** one attempt, no retries (one-shot commands): the remote, or null when unreachable ("again") */
  async tryOnce(): Promise<Remote | null> {
    if (this.remote) return this.remote;
    try {
      this.remote = await this.connector();
      this.up = true;
      this.downSince = null;
      return this.remote;
    } catch (err) {
      if (classify(err) === 'die') throw err;
      this.markDown(err as Error);
      this.log.warn(`${this.targetName} unreachable: ${(err as Error).message}`, { host: this.targetName });
      return null;
    }
  }

  /** the link broke: drop the connection so the next get() reconnects after a pause */
  async broken(err: Error, signal: AbortSignal): Promise<void> {
    this.markDown(err);
    const r = this.remote;
    this.remote = null;
    await r?.close().catch(() => {});
    const wait = this.backoff.next();
    this.log.warn(`link to ${this.targetName} broke: ${err.message}; retrying in ${(wait / 1000).toFixed(1)}s`, { host: this.targetName });
    await sleep(wait, signal);
  }

  private markDown(err: Error, since = Date.now()): void {
    this.up = false;
    this.downSince ??= since;
    this.lastError = err.message;
  }

  succeeded(): void {
    this.lastSuccess = Date.now();
    this.backoff.reset();
  }

  async close(): Promise<void> {
    const r = this.remote;
    this.remote = null;
    await r?.close().catch(() => {});
  }
}
