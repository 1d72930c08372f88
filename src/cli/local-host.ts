// What `watch` and `push` share: this host's place in the ring, its root (must exist here), the
// lock on its state dir, and how to reach another ring member by name.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { acquireLocalLock, readLocalLock, type LocalLock } from '../engine/lock.js';
import { ChainError } from '../core/errors.js';
import { EXIT } from '../core/exit-codes.js';
import type { RingView } from '../engine/daemon.js';
import type { Connector } from '../engine/link.js';
import type { Logger } from '../core/log.js';
import { openRemote, ringFromArgs, type GlobalArgs } from './context.js';

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
    conflicts: config.conflicts,
    trashMs: config.trash,
  };
}

/** this host's root must exist here; chain never creates a root */
export function requireRoot(view: RingView): void {
  if (!existsSync(view.root) || !statSync(view.root).isDirectory()) {
    throw new ChainError(`root ${view.root} of ${view.self} does not exist or is not a directory`, {
      hint: `create it (mkdir -p ${view.root}) or fix "root" in ${view.configFile}`,
    });
  }
}

/**
 * One process at a time works a host's state dir (its queues and snapshot): a second `watch` or a
 * `push` beside a running `watch` exits 75 instead of interleaving with it.
 */
export function hostLock(stateDir: string, command: 'watch' | 'push'): LocalLock {
  const file = join(stateDir, 'lock');
  const lock = acquireLocalLock(file, command);
  if (lock) return lock;
  const held = readLocalLock(file);
  const who = held ? `chain ${held.command} (pid ${held.pid})` : 'another chain process';
  throw new ChainError(`${who} already works this host's state dir (${file}); try again later`, { exitCode: EXIT.BUSY });
}

/** opens host `name` as the config file says now (a reload may have changed its address) */
export function connectorTo(argv: GlobalArgs, log: Logger): (name: string) => Connector {
  return (name) => () => {
    const { config } = ringFromArgs(argv);
    const h = config.hosts.find((x) => x.name === name);
    if (!h) throw new ChainError(`host ${name} is no longer in ${config.file}`);
    return openRemote(config, h, { receive: log });
  };
}
