// chain status: what this host's daemon last wrote to its status file (the ring, each link's state,
// pending paths, lag, last success and error), or with --ring every host's, read over SFTP; the exit
// code says whether anything needs attention, so a monitoring check can run it as it is.
import type { Argv, CommandModule } from 'yargs';
import type { Config, HostConfig } from '../../config/load.js';
import { parseDuration } from '../../config/duration.js';
import { EXIT, type ExitCode } from '../../core/exit-codes.js';
import { fmtAge } from '../../engine/format.js';
import { lagSeconds, type DaemonStatus, type LinkStatus } from '../../engine/status.js';
import { STATUS_MIRROR, daemonState, parseStatus, readStatus, statusPath, type DaemonState } from '../../engine/status-file.js';
import { openRemote, ringFromArgs, type GlobalArgs } from '../context.js';
import { setExit } from '../exit.js';
import { table } from '../table.js';

interface StatusArgs extends GlobalArgs {
  ring?: boolean;
  maxLag?: string;
}

export interface LinkView extends LinkStatus {
  lagSeconds: number;
  /** why this link needs attention (down, bypassed, stuck); absent when it is fine */
  problem?: string;
}

export interface StatusView extends Omit<DaemonStatus, 'links'> {
  running: boolean;
  daemon: DaemonState;
  links: LinkView[];
}

export interface HostView {
  host: string;
  /** false when no SSH/SFTP session could be opened (only with --ring, for the other hosts) */
  reachable: boolean;
  /** why its status could not be read (unreachable, or its status file unreadable) */
  error: string | null;
  /** null: no status file (the daemon never ran there, or with another state dir) */
  status: StatusView | null;
}

export const statusCommand: CommandModule<GlobalArgs, StatusArgs> = {
  command: 'status',
  describe: "the ring, each link's state, pending changes and lag",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option('ring', { type: 'boolean', describe: "also read every other host's status over SFTP and show all links of the ring" })
      .option('max-lag', { type: 'string', default: '5m', describe: 'a link whose oldest pending change is older than this counts as stuck (exit 3)' })
      .example('chain status', "this host's daemon and its links")
      .example('chain status --ring', "every host of the ring (their status files are read over SFTP)")
      .example('chain status --json | jq .links', 'the links, for scripts (with lagSeconds per link)')
      .example('chain status --quiet || alert', 'a monitoring check: exit 0 only when all is well')
      .epilogue(
        [
          'exit codes (for monitoring checks):',
          '  0  the daemon runs, every link is up and nothing is stuck',
          '  1  no status (watch never ran on this host), or its daemon is not running',
          '     (stopped, killed, or its status not updated for 30s)',
          '  3  a link is down or bypassed, or stuck (pending longer than --max-lag);',
          '     with --ring also: another host is unreachable or its daemon is not running',
          '',
          '`chain watch` rewrites <state>/status.json every second, and a copy at',
          '<root>/.chain/status.json that --ring reads on the other hosts over SFTP.',
        ].join('\n'),
      ),
  handler: async (argv) => {
    const { config, ring } = ringFromArgs(argv);
    const maxLagMs = parseDuration(argv.maxLag ?? '5m');
    const now = Date.now();
    const self = viewOf(ring.self.name, readStatus(ring.self.state), { now, maxLagMs, local: true });
    const order = ring.hosts.map((h) => h.name);
    if (!argv.ring) {
      const code = verdict([self], ring.self.name);
      const statusFile = statusPath(ring.self.state);
      if (argv.json) print({ ...(self.status ?? { host: self.host, running: false, daemon: 'absent' }), statusFile, exitCode: code });
      else process.stdout.write(renderHost(self, order, statusFile, now, argv.quiet));
      return setExit(code);
    }
    const others = await Promise.all(
      ring.hosts.filter((h) => h !== ring.self).map((h) => readRemote(config, h, { now, maxLagMs })),
    );
    const hosts = order.map((n) => (n === ring.self.name ? self : others.find((o) => o.host === n)!));
    const code = verdict(hosts, ring.self.name);
    if (argv.json) print({ host: ring.self.name, ring: order, hosts, exitCode: code });
    else process.stdout.write(renderRing(hosts, order, now, argv.quiet));
    setExit(code);
  },
};

const print = (v: unknown) => process.stdout.write(JSON.stringify(v, null, 2) + '\n');

interface ViewOptions {
  now: number;
  maxLagMs: number;
  /** the status was written on this machine, so its pid can be checked */
  local: boolean;
}

export function viewOf(host: string, s: DaemonStatus | null, o: ViewOptions): HostView {
  if (!s) return { host, reachable: true, error: null, status: null };
  const daemon = daemonState(s, { now: o.now, checkPid: o.local });
  const links = s.links.map((l): LinkView => {
    const v: LinkView = { ...l, lagSeconds: round(lagSeconds(l, o.now)) };
    const problem = linkProblem(v, o.now, o.maxLagMs);
    if (problem) v.problem = problem;
    return v;
  });
  return { host, reachable: true, error: null, status: { ...s, running: daemon === 'running', daemon, links } };
}

function linkProblem(l: LinkView, now: number, maxLagMs: number): string | undefined {
  if (l.state === 'down') return `down${l.downSince === null ? '' : ` for ${human(now - l.downSince)}`}`;
  if (l.state === 'bypassed') return `bypassed${l.downSince === null ? '' : ` (down for ${human(now - l.downSince)})`}, its changes kept until it is back`;
  if (l.pending > 0 && l.lagSeconds * 1000 > maxLagMs) return `stuck: ${l.pending} pending, the oldest ${human(l.lagSeconds * 1000)} old`;
  return undefined;
}

/**
 * 1 when this host has no status or its daemon is not running; 3 when any link (of a running
 * daemon) needs attention, or another host is unreachable, has no status or is not running; else 0.
 */
export function verdict(hosts: HostView[], self: string): ExitCode {
  const me = hosts.find((h) => h.host === self);
  if (!me?.status || !live(me.status)) return EXIT.FAILED;
  for (const h of hosts) {
    if (!h.reachable || !h.status || !live(h.status)) return EXIT.PARTIAL;
    if (h.status.links.some((l) => l.problem)) return EXIT.PARTIAL;
  }
  return EXIT.OK;
}

/** a running daemon, or a finished `chain push` run (cron and timers: not running between runs is normal) */
function live(s: StatusView): boolean {
  return s.running || (s.command === 'push' && s.daemon === 'stopped');
}

async function readRemote(config: Config, h: HostConfig, o: Omit<ViewOptions, 'local'>): Promise<HostView> {
  // connectTimeout bounds the connection; this bounds a server that accepts, then stops answering
  const limit = config.ssh.connectTimeout * 2;
  let timer: NodeJS.Timeout | undefined;
  let connected = false;
  const read = (async () => {
    const remote = await openRemote(config, h);
    connected = true;
    try {
      const data = await remote.readSmall(STATUS_MIRROR);
      return data === null ? null : parseStatus(data.toString('utf8'), `${h.name}:${h.root}/${STATUS_MIRROR}`);
    } finally {
      await remote.close().catch(() => {});
    }
  })();
  try {
    const s = await Promise.race([
      read,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${human(limit)}`)), limit);
      }),
    ]);
    return viewOf(h.name, s, { ...o, local: false });
  } catch (err) {
    read.catch(() => {}); // settles later, after the timeout
    // reachable but its status unreadable is still worth telling apart from a host that is down
    return { host: h.name, reachable: connected, error: (err as Error).message, status: null };
  } finally {
    clearTimeout(timer);
  }
}

// ---- text output ----

function renderHost(h: HostView, order: string[], file: string, now: number, quiet?: boolean): string {
  let out = quiet ? '' : `ring: ${ringLine(order)}\n`;
  if (!h.status) {
    return out + `${h.host}: no status at ${file}: \`chain watch\` has not run on this host (or it uses another state dir)\n`;
  }
  out += `${h.host}: ${daemonLine(h.status, now)}\n`;
  if (!quiet) out += '\n' + linkTable([h], now);
  return out + summary([h]);
}

function renderRing(hosts: HostView[], order: string[], now: number, quiet?: boolean): string {
  let out = quiet ? '' : `ring: ${ringLine(order)}\n\n`;
  out += table(
    ['HOST', 'DAEMON'],
    hosts.map((h) => [h.host, !h.reachable ? `unreachable: ${h.error}` : h.error ? h.error : h.status ? daemonLine(h.status, now) : 'no status (has `chain watch` run there?)']),
  );
  if (!quiet) out += '\n' + linkTable(hosts, now);
  return out + summary(hosts);
}

function ringLine(order: string[]): string {
  return [...order, order[0]].join(' → ');
}

function daemonLine(s: StatusView, now: number): string {
  const what = `${s.command}, pid ${s.pid}`;
  switch (s.daemon) {
    case 'running':
      return `${s.command} running (pid ${s.pid}, for ${human(now - s.startedAt)}), updated ${ago(now, s.updatedAt)}`;
    case 'stopped':
      if (s.command === 'push') return `last chain push (pid ${s.pid}) finished ${ago(now, s.stoppedAt ?? s.updatedAt)}; links as they were then`;
      return `not running: ${what} stopped ${ago(now, s.stoppedAt ?? s.updatedAt)}; links as they were then`;
    case 'gone':
      return `not running: ${what} is gone (killed, crashed or rebooted), last update ${ago(now, s.updatedAt)}`;
    case 'stale':
      return `not running: ${what} has not updated its status for ${human(now - s.updatedAt)} (hung?)`;
  }
}

function linkTable(hosts: HostView[], now: number): string {
  const rows: string[][] = [];
  for (const h of hosts) {
    for (const l of h.status?.links ?? []) {
      rows.push([
        `${h.host} → ${l.target}`,
        l.role,
        l.state,
        String(l.pending),
        l.oldestPendingAt === null ? '-' : human(l.lagSeconds * 1000),
        l.lastSuccessAt === null ? 'never' : ago(now, l.lastSuccessAt),
        l.lastError === null ? '-' : `${l.lastError}${l.lastErrorAt === null ? '' : ` (${ago(now, l.lastErrorAt)})`}`,
      ]);
    }
  }
  if (rows.length === 0) return 'no links reported\n';
  return table(['LINK', 'ROLE', 'STATE', 'PENDING', 'LAG', 'LAST SUCCESS', 'LAST ERROR'], rows);
}

function summary(hosts: HostView[]): string {
  const issues: string[] = [];
  for (const h of hosts) {
    if (!h.reachable || !h.status || !h.status.running) continue; // already said on the daemon line
    for (const l of h.status.links) if (l.problem) issues.push(`${h.host} → ${l.target} ${l.problem}`);
  }
  if (issues.length) return `\nattention: ${issues.join('; ')}\n`;
  return hosts.every((h) => h.status?.running) ? '\nall links up\n' : '';
}

/** a past time as "4s ago", "3m12s ago" */
function ago(now: number, at: number): string {
  return `${human(now - at)} ago`;
}

/** an age in ms, rounded to its two largest units (4s, 3m12s, 2h5m); a clock ahead on another host is 0s */
const human = (ms: number): string => fmtAge(Math.max(0, ms));

const round = (x: number) => Math.round(x * 1000) / 1000;
