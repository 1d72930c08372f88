// chain push: one-shot for cron and systemd timers. Exits 0 all pushed, 1 something failed,
// 3 the next host was unreachable (the rest is done; its changes stay queued), 75 another run
// holds the lock (what cron wants: try next time).
import type { Argv, CommandModule } from 'yargs';
import { LocalRemote } from '../../transport/local.js';
import { runPush } from '../../engine/oneshot.js';
import { StatusWriter } from '../../engine/status-file.js';
import { gate } from '../../engine/lock.js';
import type { DaemonStatus } from '../../engine/status.js';
import { makeLogger, makeProgress, type GlobalArgs } from '../context.js';
import { connectorTo, hostLock, requireRoot, ringView } from '../local-host.js';
import { setExit } from '../exit.js';

export const pushCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'push',
  describe: 'one-shot: push what changed since the last run to the next host, then exit',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .example('chain push --host apollo', 'push apollo\'s changes to its successor once')
      .example('* * * * * chain --config /etc/chain/chain.yaml push --quiet', 'a crontab line: every minute (exit 75 = a run is still going)'),
  handler: async (argv) => {
    const view = ringView(argv);
    const log = makeLogger(argv, view.self);
    requireRoot(view);
    const lock = hostLock(view.state, 'push');
    let final: DaemonStatus | undefined;
    try {
      const code = await runPush({
        view,
        connectTo: connectorTo(argv, log),
        source: (root, name) => new LocalRemote(root, name),
        log,
        progress: makeProgress(argv, log),
        onStatus: (s) => (final = s),
        gate: (target, signal) => gate(target, view.root, signal, { log }),
      });
      // the run's outcome per link, for `chain status` and monitoring
      const f = final;
      if (f) await new StatusWriter({ stateDir: view.state, status: () => f, onError: (e) => log.warn(e.message) }).stop();
      if (argv.json) process.stdout.write(JSON.stringify({ exitCode: code, ...f }, null, 2) + '\n');
      setExit(code);
    } finally {
      lock.release();
    }
  },
};
