// Progress of long work: an ora spinner on a TTY, plain log lines (at most every few seconds)
// otherwise; disabled (--no-progress, --json), only the start and end of each phase are logged.
// ora is loaded only for a spinner, and in the background (it costs ~0.1 s of CPU to import: cron
// and scripts never pay it).
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
    let spinner: Ora | null = null;
    // the text to show, and whether a spinner should be running, until ora has loaded
    let text = '';
    let running = false;
    const loading = import('ora').then(
      (m) => m.default,
      () => null, // no spinner then: the work goes on
    );
    return {
      start: (t) => {
        text = t;
        running = true;
        void loading.then((ora) => {
          if (ora && running && !spinner) spinner = ora({ text, stream: process.stderr }).start();
        });
      },
      update: (t) => {
        text = t;
        if (spinner) spinner.text = t;
      },
      stop: (t) => {
        running = false;
        if (spinner) spinner.succeed(t);
        else process.stderr.write(`${t}\n`);
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
