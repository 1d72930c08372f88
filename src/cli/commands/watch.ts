// chain watch: this host's daemon, in the foreground (systemd, a terminal, a container).
// SIGTERM/SIGINT finish the batch in flight and exit 0; SIGHUP re-reads the config.
import type { Argv, CommandModule } from 'yargs';
import { existsSync, statSync } from 'node:fs';
import { ChainError } from '../../core/errors.js';
import { EXIT } from '../../core/exit-codes.js';
import { LocalRemote } from '../../transport/local.js';
import { WatchDaemon, type RingView } from '../../engine/daemon.js';
import { makeLogger, makeProgress, openRemote, ringFromArgs, type GlobalArgs } from '../context.js';
import { setExit } from '../exit.js';

export function ringView(argv: GlobalArgs): RingView {
  const { config, ring } = ringFromArgs(argv);
  const self = ring.self;
  return {
    configFile: config.file,
    self: self.name,
    root: self.root,
    state: self.state,
    ring: config.hosts.map((h) => h.name),
    successor: ring.successor().name,
    bypassCandidates: ring.after().slice(1).map((h) => h.name),
    intervalMs: config.interval,
    bypassMs: config.bypass,
    exclude: config.exclude,
    deleteEnabled: config.delete,
  };
}

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
    if (!existsSync(first.root) || !statSync(first.root).isDirectory()) {
      throw new ChainError(`root ${first.root} of ${first.self} does not exist or is not a directory`, {
        hint: `create it (mkdir -p ${first.root}) or fix "root" in ${first.configFile}`,
      });
    }
    const daemon = new WatchDaemon({
      resolve: () => ringView(argv),
      connectTo: (name) => () => {
        const { config } = ringFromArgs(argv);
        const h = config.hosts.find((x) => x.name === name);
        if (!h) throw new ChainError(`host ${name} is no longer in ${config.file}`);
        return openRemote(config, h);
      },
      source: (root, name) => new LocalRemote(root, name),
      log,
      progress: makeProgress(argv, log),
    });
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
    await daemon.run();
    setExit(EXIT.OK);
  },
};
