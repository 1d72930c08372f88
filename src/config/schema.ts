// The shape of chain.yaml: which keys exist where, their defaults, and the resolved Config the
// rest of chain reads (every default filled in, every per-host override applied).
// chain.example.yaml documents exactly these keys; test/config/example.test.ts holds them together.
import { z } from 'zod';
import * as f from './fields.js';
import type { ConflictMode, FieldContext } from './fields.js';
import { glob } from './glob-field.js';
import { localFile, root, stateDir } from './path-fields.js';

export interface SshSettings {
  user: string;
  /** private key file; unset = ssh agent (SSH_AUTH_SOCK) and the default keys */
  identity?: string;
  knownHosts: string;
  /** ms */
  connectTimeout: number;
}

export interface HostConfig {
  name: string;
  address: string;
  port: number;
  user: string;
  identity?: string;
  root: string;
  state: string;
  /** the command that runs chain there, for `chain receive` (false: SFTP only) */
  receiver: string | false;
  /** line of this host's entry in the config file, for messages */
  line: number;
}

export interface Config {
  /** absolute path of the file this was read from */
  file: string;
  root: string;
  /** ms */
  interval: number;
  /** the ring, in push order; the last pushes to the first */
  hosts: HostConfig[];
  ssh: SshSettings;
  exclude: string[];
  delete: boolean;
  /** ms to keep trashed files, or false = no trash */
  trash: number | false;
  conflicts: ConflictMode;
  /** ms a successor may be unreachable before it is routed around, or false = wait for it */
  bypass: number | false;
  state: string;
  /** the command that runs chain on the hosts (per-host override allowed); false: SFTP only */
  receiver: string | false;
  metrics?: { host: string; port: number };
}

export const DEFAULTS = {
  interval: 1000,
  port: 22,
  knownHosts: '~/.ssh/known_hosts',
  connectTimeout: 10_000,
  exclude: [] as string[],
  delete: true,
  trash: 7 * 86_400_000,
  conflicts: 'newer' as ConflictMode,
  bypass: 60_000,
  state: '/var/lib/chain',
  receiver: 'chain' as string | false,
} as const;

const missingRoot = 'set root to the absolute path of the replicated directory, e.g. root: /var/www/html/images';

function shapes(ctx: FieldContext) {
  const host = {
    name: f.field(f.required(f.hostName, 'every host needs a name, e.g. name: apollo')),
    address: f.field(f.required(f.address, 'every host needs an address (hostname or IP), e.g. address: 10.0.0.11')),
    port: f.field(f.optional(f.port)),
    user: f.field(f.optional(f.user)),
    identity: f.field(f.optional(localFile(ctx, '~/.ssh/chain_ed25519'))),
    root: f.field(f.optional(root)),
    state: f.field(f.optional(stateDir(ctx))),
    receiver: f.field(f.optional(f.receiver)),
  };
  const ssh = {
    user: f.field(f.optional(f.user)),
    identity: f.field(f.optional(localFile(ctx, '~/.ssh/chain_ed25519'))),
    knownHosts: f.field(f.optional(localFile(ctx, '~/.ssh/known_hosts'))),
    connectTimeout: f.field(f.optional(f.duration({ timer: true }))),
  };
  const top = {
    root: f.field(f.required(root, missingRoot)),
    interval: f.field(f.optional(f.duration({ timer: true }))),
    hosts: z
      .array(z.object(host, { invalid_type_error: 'expected a host entry such as { name: apollo, address: 10.0.0.11 }' }).strict(), {
        required_error: 'missing: list the ring, in push order, e.g. hosts: [{ name: apollo, address: 10.0.0.11 }, …]',
        invalid_type_error: 'expected a list of hosts in push order (- name: apollo …)',
      })
      .min(2, 'a ring needs at least 2 hosts (the last one pushes to the first)'),
    ssh: z.preprocess(
      (v) => v ?? {},
      z.object(ssh, { invalid_type_error: 'expected a map of ssh settings (user, identity, knownHosts, connectTimeout)' }).strict(),
    ),
    // A single glob is accepted as a list of one; an empty `exclude:` is an empty list.
    exclude: z.preprocess(
      (v) => (v === null || v === undefined ? [] : typeof v === 'string' ? [v] : v),
      z.array(f.field(glob), { invalid_type_error: 'expected a list of globs such as ["*.tmp", "cache/**"]' }),
    ),
    delete: f.field(f.optional(f.bool)),
    trash: f.field(f.optional(f.durationOrFalse({ timer: false, fallback: DEFAULTS.trash, off: 'no trash' }))),
    conflicts: f.field(f.optional(f.conflicts)),
    bypass: f.field(f.optional(f.durationOrFalse({ timer: true, fallback: DEFAULTS.bypass, off: 'never routing around a host' }))),
    state: f.field(f.optional(stateDir(ctx))),
    receiver: f.field(f.optional(f.receiver)),
    metrics: f.field(f.listen),
  };
  return { top, ssh, host };
}

// Key lists come from the shapes themselves, so they cannot drift from what is accepted.
const keyShapes = shapes({ home: '/', configDir: '/' });
export const TOP_KEYS = Object.keys(keyShapes.top) as (keyof typeof keyShapes.top)[];
export const SSH_KEYS = Object.keys(keyShapes.ssh) as (keyof typeof keyShapes.ssh)[];
export const HOST_KEYS = Object.keys(keyShapes.host) as (keyof typeof keyShapes.host)[];

export function configSchema(ctx: FieldContext) {
  const s = shapes(ctx);
  return z.object(s.top, { invalid_type_error: 'the top level must be a map of settings (root:, hosts:, …)' }).strict();
}

export type ParsedConfig = z.output<ReturnType<typeof configSchema>>;

export interface ResolveContext extends FieldContext {
  file: string;
  /** who to log in as when neither ssh.user nor a host's user is set */
  defaultUser: string;
  /** line of hosts[i] in the file */
  hostLine: (i: number) => number;
}

/** Fills defaults and applies per-host overrides; the input has passed configSchema. */
export function resolveConfig(p: ParsedConfig, ctx: ResolveContext): Config {
  const ssh: SshSettings = {
    user: p.ssh.user ?? ctx.defaultUser,
    identity: p.ssh.identity,
    knownHosts: p.ssh.knownHosts ?? localFile(ctx, '')(DEFAULTS.knownHosts),
    connectTimeout: p.ssh.connectTimeout ?? DEFAULTS.connectTimeout,
  };
  if (ssh.identity === undefined) delete ssh.identity;
  const state = p.state ?? DEFAULTS.state;
  const receiver = p.receiver ?? DEFAULTS.receiver;
  const hosts = p.hosts.map((h, i): HostConfig => {
    const out: HostConfig = {
      name: h.name,
      address: h.address,
      port: h.port ?? DEFAULTS.port,
      user: h.user ?? ssh.user,
      identity: h.identity ?? ssh.identity,
      root: h.root ?? p.root,
      state: h.state ?? state,
      receiver: h.receiver ?? receiver,
      line: ctx.hostLine(i),
    };
    if (out.identity === undefined) delete out.identity;
    return out;
  });
  const config: Config = {
    file: ctx.file,
    root: p.root,
    interval: p.interval ?? DEFAULTS.interval,
    hosts,
    ssh,
    exclude: p.exclude,
    delete: p.delete ?? DEFAULTS.delete,
    trash: p.trash ?? DEFAULTS.trash,
    conflicts: p.conflicts ?? DEFAULTS.conflicts,
    bypass: p.bypass ?? DEFAULTS.bypass,
    state,
    receiver,
  };
  if (p.metrics) config.metrics = p.metrics;
  return config;
}
