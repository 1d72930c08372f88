// Progress of long work: an ora spinner on a TTY, plain log lines (at most every few seconds)
// otherwise, nothing with --no-progress or --json. ora is loaded only for a spinner, in the
// background from the moment the progress is made; work that starts before it has loaded gets
// its spinner a moment later (or, when it is already over by then, a plain log line).
import type { Ora } from 'ora';
import type { Logger } from '../core/log.js';

export interface Progress {
  start(text: string): void;
  update(text: string): void;
  stop(text: string): void;
}

export function createProgress(opts: { enabled: boolean; log: Logger; tty?: boolean; everyMs?: number }): Progress {
  const tty = opts.tty ?? process.stderr.isTTY === true;
  if (opts.enabled && tty) {
    let ora: typeof import('ora').default | null = null;
    let spinner: Ora | null = null;
    /** the text of work started before ora had loaded */
    let waiting: string | null = null;
    import('ora').then(
      (m) => {
        ora = m.default;
        if (waiting !== null) spinner = ora({ text: waiting, stream: process.stderr }).start();
        waiting = null;
      },
      (err: Error) => opts.log.debug(`no progress spinner: ${err.message}`),
    );
    return {
      start: (t) => {
        if (ora) spinner = ora({ text: t, stream: process.stderr }).start();
        else waiting = t;
      },
      update: (t) => {
        if (spinner) spinner.text = t;
        else if (waiting !== null) waiting = t;
      },
      stop: (t) => {
        if (spinner) spinner.succeed(t);
        else opts.log.info(t);
        spinner = null;
        waiting = null;
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
