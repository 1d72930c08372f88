// Progress of long work: an ora spinner on a TTY, plain log lines (at most every few seconds)
// otherwise, nothing with --no-progress or --json.
import ora, { type Ora } from 'ora';
import type { Logger } from '../core/log.js';

export interface Progress {
  start(text: string): void;
  update(text: string): void;
  stop(text: string): void;
}

export function createProgress(opts: { enabled: boolean; log: Logger; tty?: boolean; everyMs?: number }): Progress {
  const tty = opts.tty ?? process.stderr.isTTY === true;
  if (opts.enabled && tty) {
    let spinner: Ora | null = null;
    return {
      start: (t) => (spinner = ora({ text: t, stream: process.stderr }).start()),
      update: (t) => {
        if (spinner) spinner.text = t;
      },
      stop: (t) => {
        spinner?.succeed(t);
        spinner = null;
      },
    };
  }
  let last = 0;
  const every = opts.everyMs ?? 5000;
  return {
    start: (t) => {
      last = Date.now();
      opts.log.info(t);
    },
    update: (t) => {
      if (!opts.enabled || Date.now() - last < every) return;
      last = Date.now();
      opts.log.info(t);
    },
    stop: (t) => opts.log.info(t),
  };
}
