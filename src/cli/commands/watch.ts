// chain watch: this host's daemon, in the foreground (systemd, a terminal, a container).
import type { Argv, CommandModule } from 'yargs';
import { existsSync, statSync } from 'node:fs';
import { ChainError } from '../../core/errors.js';
import { EXIT } from '../../core/exit-codes.js';
import { compileExclude } from '../../core/exclude.js';
import { LocalRemote } from '../../transport/local.js';
import { runWatch } from '../../engine/daemon.js';
import { makeLogger, makeProgress, openRemote, ringFromArgs, type GlobalArgs } from '../context.js';
import { setExit } from '../exit.js';

export const watchCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'watch',
  describe: "run this host's daemon in the foreground: watch the root and push changes to the next host",
  builder: (y: Argv<GlobalArgs>) =>
    y.example('chain watch --host apollo', 'run as ring member apollo').example('CHAIN_HOST=apollo chain watch --log-format json', 'as a systemd service, JSON logs'),
  handler: async (argv) => {
    const { config, ring } = ringFromArgs(argv);
    const self = ring.self;
    const log = makeLogger(argv, self.name);
    if (!existsSync(self.root) || !statSync(self.root).isDirectory()) {
      throw new ChainError(`root ${self.root} of ${self.name} does not exist or is not a directory`, {
        hint: `create it (mkdir -p ${self.root}) or fix "root" in ${config.file}`,
      });
    }
    const next = ring.successor();
    const stop = new AbortController();
    const onSignal = (sig: string) => {
      log.info(`${sig} received`);
      stop.abort();
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
    const code = await runWatch(
      {
        self: self.name,
        root: self.root,
        source: new LocalRemote(self.root, self.name),
        targetName: next.name,
        connect: () => openRemote(config, next),
        intervalMs: config.interval,
        exclude: compileExclude(config.exclude),
        deleteEnabled: config.delete,
        log,
        progress: makeProgress(argv, log),
      },
      stop.signal,
    );
    setExit(code ?? EXIT.OK);
  },
};
