// chain watch: this host's daemon, in the foreground (systemd, a terminal, a container).
// SIGTERM/SIGINT finish the batch in flight and exit 0; SIGHUP re-reads the config.
import type { Argv, CommandModule } from 'yargs';
import { EXIT } from '../../core/exit-codes.js';
import { LocalRemote } from '../../transport/local.js';
import { WatchDaemon } from '../../engine/daemon.js';
import { StatusWriter, STATUS_MIRROR } from '../../engine/status-file.js';
import { gate } from '../../engine/lock.js';
import { makeLogger, makeProgress, ringFromArgs, type GlobalArgs } from '../context.js';
import { connectorTo, hostLock, requireRoot, ringView } from '../local-host.js';
import { setExit } from '../exit.js';

export const watchCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'watch',
  describe: "run this host's daemon in the foreground: watch the root and push changes to the next host",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .example('chain watch --host apollo', 'run as ring member apollo')
      .example('CHAIN_HOST=apollo chain watch --log-format json', 'under systemd, with JSON log lines')
      .example('kill -HUP $(pidof chain)', 're-read the config (hosts added or removed) without a restart'),
  handler: async (argv) => {
    const first = ringView(argv);
    const log = makeLogger(argv, first.self);
    requireRoot(first);
    const lock = hostLock(first.state, 'watch');
    const daemon = new WatchDaemon({
      resolve: () => ringView(argv),
      connectTo: connectorTo(argv, log),
      source: (root, name) => new LocalRemote(root, name),
      log,
      progress: makeProgress(argv, log),
      // a repair holding this host's or the target's lock pauses the pushes instead of interleaving
      gate: (target, signal) => gate(target, first.root, signal, { log }),
    });
    const { config } = ringFromArgs(argv);
    // a port in use fails now, before the long startup work; prom-client is loaded only when used
    const metrics = config.metrics ? await (await import('../../engine/metrics.js')).startMetrics({ ...config.metrics, status: () => daemon.status(), configFile: config.file }) : undefined;
    if (metrics) log.info(`metrics at ${metrics.url}`);
    const own = new LocalRemote(first.root, first.self);
    const writer = new StatusWriter({
      stateDir: first.state,
      status: () => daemon.status(),
      // a copy inside the root lets `chain status --ring` read it over SFTP from any host
      mirror: (json) => own.writeSmall(STATUS_MIRROR, json),
      onError: (e) => log.warn(e.message),
    });
    writer.start();
    const onStop = (sig: string) => {
      log.info(`${sig} received`);
      daemon.stop();
    };
    process.on('SIGTERM', () => onStop('SIGTERM'));
    process.on('SIGINT', () => onStop('SIGINT'));
    process.on('SIGHUP', () => {
      log.info('SIGHUP received: reloading the config');
      daemon.reload();
    });
    try {
      await daemon.run();
    } finally {
      await metrics?.close();
      await writer.stop();
      lock.release();
    }
    setExit(EXIT.OK);
  },
};
