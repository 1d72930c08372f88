// chain repair: bring the whole ring (or one link) back to one state, then exit. Parses and checks
// the options, builds one connector per host (this host's own root directly, the others over SFTP),
// runs engine/repair.ts and prints its outcome. Exit: 0 consistent (or nothing to do), 1 failed or
// stopped for safety, 2 usage, 3 a host unreachable (the rest repaired), 75 a host is locked.
import type { Argv, CommandModule } from 'yargs';
import { existsSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { hostname } from 'node:os';
import { ChainError, ConfigError } from '../../core/errors.js';
import { EXIT } from '../../core/exit-codes.js';
import { compileExclude } from '../../core/exclude.js';
import type { RepairMode } from '../../core/reconcile.js';
import type { Config } from '../../config/load.js';
import { Ring, resolveSelf } from '../../config/ring.js';
import { LocalRemote } from '../../transport/local.js';
import { runRepair, type RepairOutcome } from '../../engine/repair.js';
import { describeHolder } from '../../engine/lock.js';
import { loadFromArgs, makeLogger, makeProgress, openRemote, preloadSsh, type GlobalArgs } from '../context.js';
import { countsTable, itemize, jsonReport } from '../repair-report.js';
import { setExit } from '../exit.js';
import { fmtCount } from '../../engine/format.js';

interface RepairArgs extends GlobalArgs {
  link?: string;
  from?: string;
  delete?: boolean;
  'dry-run'?: boolean;
  'max-delete'?: number;
}

export const repairCommand: CommandModule<GlobalArgs, RepairArgs> = {
  command: 'repair',
  describe: 'reconcile the whole ring, or one link, then exit',
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('link', { type: 'string', describe: 'only that link: make B match A (A:B)' })
      .option('from', { type: 'string', describe: "HOST's tree wins everywhere (authoritative repair)" })
      .option('delete', { type: 'boolean', describe: 'also remove paths the winning side lacks (needs --from or --link)' })
      .option('dry-run', { type: 'boolean', describe: 'print the plan (with --verbose, one line per path); change nothing' })
      .option('max-delete', { type: 'number', describe: 'stop before deleting more than N paths' })
      .example('chain repair --dry-run --verbose', 'what a whole-ring repair would do, path by path')
      .example('chain repair', 'newest version of every path everywhere; nothing is deleted')
      .example('chain repair --from apollo --delete --max-delete 100', 'make every host a copy of apollo')
      .example('chain repair --link apollo:chronos', 'make chronos match apollo; nobody else changes'),
  handler: async (argv) => {
    // A repair is one pass over every entry, done in a second or two: V8's optimizing compiler
    // inlining callees into the hot listing, SFTP and planning functions costs more CPU (on
    // another thread, but a machine's cores are shared with find, sshd and sftp-server) than the
    // inlined code saves in so short a run. Measured on 100,000 entries: 10–15 % less CPU, ~8 %
    // less wall time (bench/README.md). Set before any of that code runs hot; a daemon keeps
    // V8's default (it runs for days).
    setFlagsFromString('--no-turbo-inlining');
    const config = loadFromArgs(argv);
    const ring = new Ring(config, 0);
    // a ConfigError naming the ring when there is no such host
    const index = (name: string) => config.hosts.indexOf(ring.host(name));
    const mode = parseMode(argv, index);
    if (argv.delete && mode.kind === 'ring') {
      throw new ConfigError('--delete needs --from HOST or --link A:B', {
        hint: 'without a source, a path missing on some hosts may be a delete or a new file elsewhere, and repair cannot tell; it only adds and updates',
      });
    }
    const maxDelete = argv['max-delete'];
    if (maxDelete !== undefined && (!Number.isInteger(maxDelete) || maxDelete < 0)) throw new ConfigError(`--max-delete must be a whole number of paths (0 or more), got ${maxDelete}`);

    const self = whoAmI(config, argv);
    // the SSH modules (ssh2 is ~60 ms of CPU to load) before our own root's listing begins: loaded
    // later, they would compete with parsing its output, and the SSH handshakes would start later
    if (config.hosts.some((h) => h.name !== self?.name)) await preloadSsh();
    const log = makeLogger(argv, self?.name);
    const halt = new AbortController();
    const onSignal = (sig: string) => {
      log.warn(`${sig}: stopping after the changes in flight`);
      halt.abort();
    };
    const onInt = () => onSignal('SIGINT');
    const onTerm = () => onSignal('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    let out: RepairOutcome;
    try {
      out = await runRepair({
        hosts: config.hosts.map((h) => ({
          name: h.name,
          // our own root directly: no SSH to ourselves, and it stays reachable whatever sshd does
          connect: async () => (self?.name === h.name && existsSync(h.root) ? new LocalRemote(h.root, h.name) : openRemote(config, h, { walk: true })),
        })),
        mode,
        delete: argv.delete === true,
        conflicts: config.conflicts,
        trash: config.trash !== false,
        maxDelete,
        dryRun: argv['dry-run'] === true,
        exclude: compileExclude(config.exclude),
        log,
        progress: makeProgress(argv, log),
        owner: self?.name ?? hostname(),
        signal: halt.signal,
      });
    } finally {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
    print(out, argv, describeMode(mode, config));
    setExit(out.code);
  },
};

function parseMode(argv: RepairArgs, index: (name: string) => number): RepairMode {
  if (argv.link !== undefined && argv.from !== undefined) throw new ConfigError('use --link A:B or --from HOST, not both');
  if (argv.from !== undefined) {
    if (!argv.from) throw new ConfigError('--from needs a host name');
    return { kind: 'from', source: index(argv.from) };
  }
  if (argv.link !== undefined) {
    const m = /^([^:]+):([^:]+)$/.exec(argv.link);
    if (!m) throw new ConfigError(`--link takes A:B (two host names), got ${JSON.stringify(argv.link)}`, { hint: 'e.g. --link apollo:chronos makes chronos match apollo' });
    const source = index(m[1]!);
    const target = index(m[2]!);
    if (source === target) throw new ConfigError(`--link ${argv.link}: a host cannot be repaired from itself`);
    return { kind: 'link', source, target };
  }
  return { kind: 'ring' };
}

/** the ring member this process runs on, if any: --host / CHAIN_HOST must name one; the hostname may not */
function whoAmI(config: Config, argv: GlobalArgs): Config['hosts'][number] | undefined {
  try {
    return config.hosts[resolveSelf(config, { flag: argv.host, env: process.env, hostname: hostname() })];
  } catch (err) {
    if (argv.host || process.env.CHAIN_HOST) throw err;
    return undefined; // an operator's machine outside the ring: every host over SSH
  }
}

function describeMode(mode: RepairMode, config: Config): string {
  const n = (i: number) => config.hosts[i]!.name;
  if (mode.kind === 'from') return `from ${n(mode.source)}`;
  if (mode.kind === 'link') return `link ${n(mode.source)}:${n(mode.target)}`;
  return 'ring';
}

function print(out: RepairOutcome, argv: RepairArgs, mode: string): void {
  if (out.busy) {
    const msg = `${out.busy.host} is locked by ${describeHolder(out.busy.holder)}; nothing was changed`;
    if (argv.json) process.stdout.write(jsonReport(out, { mode, verbose: !!argv.verbose }));
    throw new ChainError(msg, { exitCode: EXIT.BUSY, hint: 'try again when it is done (a lock whose process is gone is taken over once it expires)' });
  }
  if (argv.json) {
    process.stdout.write(jsonReport(out, { mode, verbose: !!argv.verbose }));
  } else {
    const w = (s: string) => process.stdout.write(s);
    const plan = out.plan;
    for (const h of out.hosts) if (h.state === 'unreachable' || h.state === 'failed') w(`${h.name}: ${h.state}: ${h.error}\n`);
    if (plan && (out.dryRun || out.stop) && argv.verbose) w(itemize(plan));
    if (plan && plan.differing === 0 && !out.stop) {
      const up = out.hosts.filter((h) => h.state === 'ok').map((h) => h.name);
      w(`nothing to do: ${fmtCount(plan.compared)} paths identical on ${up.join(', ')}\n`);
    } else if (plan && (out.dryRun || out.stop)) {
      w(countsTable(out, 'planned'));
      w(`${fmtCount(plan.differing)} of ${fmtCount(plan.compared)} paths differ (${mode})${plan.conflicts ? `, ${plan.conflicts} conflict cop${plan.conflicts === 1 ? 'y' : 'ies'} to keep` : ''}\n`);
      if (out.dryRun) w('dry run: nothing was changed\n');
    } else if (plan) {
      w(countsTable(out, 'done'));
      for (const h of out.hosts) if (h.state === 'down') w(`${h.name} stopped answering during the repair: ${h.error}\n`);
      for (const f of out.failed.slice(0, 20)) w(`failed: ${f.host}: ${f.path}: ${f.error.message}\n`);
      if (out.failed.length > 20) w(`... and ${out.failed.length - 20} more failures\n`);
      if (out.unresolved.length) w(`${out.unresolved.length} path(s) kept changing during the repair (e.g. ${out.unresolved.slice(0, 3).join(', ')}): run chain repair again\n`);
      const ok = out.hosts.filter((h) => h.state === 'ok').map((h) => h.name);
      if (out.code === EXIT.OK) w(`repaired in ${(out.elapsedMs / 1000).toFixed(1)}s: ${ok.join(', ')} are consistent\n`);
      else if (out.code === EXIT.PARTIAL) w(`repaired what could be reached in ${(out.elapsedMs / 1000).toFixed(1)}s (${ok.join(', ')}); run chain repair again when every host is back\n`);
    }
    if (plan && plan.keptOnTargets) w(`${fmtCount(plan.keptOnTargets)} path(s) the source lacks were left in place (--delete removes them)\n`);
    if (plan && plan.unsupportedCount) w(`${plan.unsupportedCount} entr${plan.unsupportedCount === 1 ? 'y' : 'ies'} chain cannot replicate (sockets, FIFOs, devices) left alone, e.g. ${plan.unsupported.slice(0, 3).map((u) => `${u.host}:${u.path}`).join(', ')}\n`);
  }
  if (out.stop) throw new ChainError(out.stop.message, { exitCode: EXIT.FAILED, hint: out.stop.hint });
}
