// chain init: write the commented starter config (chain.example.yaml) where --config points, or ./chain.yaml.
import type { Argv, CommandModule } from 'yargs';
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../../core/errors.js';
import { EXIT } from '../../core/exit-codes.js';
import { starterConfigText } from '../../config/starter.js';
import type { GlobalArgs } from '../context.js';
import { setExit } from '../exit.js';

interface InitArgs extends GlobalArgs {
  force?: boolean;
}

export const initCommand: CommandModule<GlobalArgs, InitArgs> = {
  command: 'init',
  describe: 'write a commented starter chain.yaml',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('force', { type: 'boolean', default: false, describe: 'overwrite an existing file' })
      .example('chain init', 'write ./chain.yaml')
      .example('chain --config /etc/chain/chain.yaml init', 'write the system-wide config'),
  handler: (argv) => {
    const file = resolve(argv.config ?? process.env.CHAIN_CONFIG ?? 'chain.yaml');
    if (existsSync(file) && !argv.force) {
      throw new ConfigError(`${file} already exists; not overwriting it`, { hint: 'edit it, or pass --force to replace it with the starter config' });
    }
    writeFileSync(file, starterConfigText(), { mode: 0o644 });
    process.stdout.write(`wrote ${file}\nnext: edit root and hosts, run "chain trust" to record host keys, then "chain check"\n`);
    setExit(EXIT.OK);
  },
};
