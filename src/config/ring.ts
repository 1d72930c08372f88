// Who this process is in the ring and who comes next. Push order is the order of `hosts:`;
// the last host pushes to the first.
import { ConfigError } from '../core/errors.js';
import type { Config, HostConfig } from './schema.js';

export interface SelfOptions {
  flag?: string;
  env: NodeJS.ProcessEnv;
  hostname: string;
}

/**
 * Index of this host in config.hosts: --host, else CHAIN_HOST, else the OS hostname (full, then the
 * short name before the first dot). Names match ignoring case, as hostnames do.
 */
export function resolveSelf(config: Config, opts: SelfOptions): number {
  const [value, source] =
    opts.flag !== undefined && opts.flag !== ''
      ? [opts.flag, '--host']
      : opts.env.CHAIN_HOST
        ? [opts.env.CHAIN_HOST, 'CHAIN_HOST']
        : [opts.hostname, 'the hostname of this machine'];
  const tries = source.startsWith('the hostname') ? [value, value.split('.')[0]!] : [value];
  for (const name of tries) {
    const i = indexOf(config, name);
    if (i !== -1) return i;
  }
  throw new ConfigError(
    `${JSON.stringify(value)} (from ${source}) is not a host of the ring in ${where(config)}; its hosts are: ${names(config)}`,
    { hint: 'pass --host NAME or set CHAIN_HOST to say which of them this machine is, or fix `name:` in the config' },
  );
}

export class Ring {
  readonly hosts: readonly HostConfig[];
  readonly self: HostConfig;

  constructor(
    private readonly config: Config,
    readonly selfIndex: number,
  ) {
    if (!Number.isInteger(selfIndex) || selfIndex < 0 || selfIndex >= config.hosts.length) {
      throw new RangeError(`Ring: self index ${selfIndex} outside 0..${config.hosts.length - 1}`);
    }
    this.hosts = config.hosts;
    this.self = config.hosts[selfIndex]!;
  }

  get size(): number {
    return this.hosts.length;
  }

  /** the host self pushes to */
  successor(): HostConfig {
    return this.at(this.selfIndex + 1);
  }

  /** the host that pushes to self */
  predecessor(): HostConfig {
    return this.at(this.selfIndex - 1);
  }

  /** The hosts after host i (default self) in push order, successor first, host i excluded: the bypass order. */
  after(i: number = this.selfIndex): HostConfig[] {
    return Array.from({ length: this.size - 1 }, (_, k) => this.at(i + 1 + k));
  }

  /** The host named name (ignoring case); ConfigError listing the ring when there is none (for --link, --from, trust). */
  host(name: string): HostConfig {
    const i = indexOf(this.config, name);
    if (i === -1) {
      throw new ConfigError(`no host named ${JSON.stringify(name)} in the ring in ${where(this.config)}; its hosts are: ${names(this.config)}`);
    }
    return this.hosts[i]!;
  }

  private at(i: number): HostConfig {
    return this.hosts[((i % this.size) + this.size) % this.size]!;
  }
}

function indexOf(config: Config, name: string): number {
  const n = name.toLowerCase();
  return config.hosts.findIndex((h) => h.name.toLowerCase() === n);
}

const names = (config: Config): string => config.hosts.map((h) => h.name).join(', ');

/** file:line of the first host entry, where a user goes to read or fix the names */
const where = (config: Config): string => `${config.file}:${config.hosts[0]?.line ?? 1}`;
