// Which config file this run reads: --config, then $CHAIN_CONFIG, then ./chain.yaml, then
// /etc/chain/chain.yaml. A file named explicitly (flag or env) must exist: falling back to
// another file would run the ring a user did not ask for.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../core/errors.js';

export const SYSTEM_CONFIG = '/etc/chain/chain.yaml';

export interface FindOptions {
  flag?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** the system-wide file; a parameter so tests need not touch /etc */
  systemFile?: string;
}

/** Absolute path of the config file to read; ConfigError (exit 2) when there is none. */
export function findConfigFile(opts: FindOptions): string {
  const explicit: [string | undefined, string][] = [
    [opts.flag, '--config'],
    [opts.env.CHAIN_CONFIG, 'CHAIN_CONFIG'],
  ];
  for (const [value, source] of explicit) {
    if (value === undefined || value === '') continue;
    const file = resolve(opts.cwd, value);
    const kind = kindOf(file);
    if (kind === 'file') return file;
    throw new ConfigError(`config file ${file} (from ${source}) ${kind === 'missing' ? 'does not exist' : 'is not a file'}`, {
      hint: `fix ${source}, or run \`chain init\` to write a starter config there`,
    });
  }
  const local = resolve(opts.cwd, 'chain.yaml');
  const system = opts.systemFile ?? SYSTEM_CONFIG;
  for (const file of [local, system]) if (kindOf(file) === 'file') return file;
  throw new ConfigError(`no config file: looked for ${local} and ${system} (neither --config nor CHAIN_CONFIG was set)`, {
    hint: 'run `chain init` to write a commented starter, or pass --config FILE',
  });
}

function kindOf(file: string): 'file' | 'other' | 'missing' {
  try {
    return statSync(file).isFile() ? 'file' : 'other';
  } catch {
    return 'missing';
  }
}
