// chain check: validate the config, then connect to every host and report each step.
import type { Argv, CommandModule } from 'yargs';
import { existsSync } from 'node:fs';
import fg from 'fast-glob';
import { EXIT } from '../../core/exit-codes.js';
import { checkRing, type HostCheck, type StepState } from '../../engine/check.js';
import { loadFromArgs, sshTarget, type GlobalArgs } from '../context.js';
import { table } from '../table.js';
import { setExit } from '../exit.js';
import type { Config } from '../../config/load.js';
import { hostname } from 'node:os';

const mark = (s: StepState) => (s === 'ok' ? 'ok' : s === 'fail' ? 'FAIL' : '-');
// not a failure of the host: 'sftp' says pushes to it use SFTP alone
const receiverMark = (r: HostCheck) => (r.receiver === 'ok' ? 'ok' : r.receiver === 'fail' ? 'sftp' : '-');

export const checkCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'check',
  describe: 'validate the config, connect to every host, verify host keys, SFTP, and that each root exists and is writable',
  builder: (y: Argv<GlobalArgs>) => y.example('chain check', 'check the ring of ./chain.yaml').example('chain check --json | jq .hosts', 'the same, for scripts'),
  handler: async (argv) => {
    const config = loadFromArgs(argv);
    const results = await checkRing(config, (h) => sshTarget(config, h));
    const code = results.every((r) => r.writable === 'ok') ? EXIT.OK : results.every((r) => r.writable === 'ok' || r.unreachable) ? EXIT.PARTIAL : EXIT.FAILED;
    const excludes = await excludeReport(config, argv.host);
    if (argv.json) {
      process.stdout.write(JSON.stringify({ config: config.file, ok: code === EXIT.OK, exitCode: code, hosts: results, exclude: excludes }, null, 2) + '\n');
    } else {
      process.stdout.write(`config ${config.file}: ${config.hosts.length} hosts, ring ${config.hosts.map((h) => h.name).join(' → ')} → ${config.hosts[0].name}\n\n`);
      process.stdout.write(
        table(
          ['HOST', 'ADDRESS', 'REACH', 'HOSTKEY', 'LOGIN', 'SFTP', 'ROOT', 'WRITABLE', 'RECEIVER'],
          results.map((r) => [r.host, `${r.address}:${r.port}`, mark(r.reachable), mark(r.hostKey), mark(r.login), mark(r.sftp), mark(r.rootExists), mark(r.writable), receiverMark(r)]),
        ),
      );
      for (const r of results.filter((x) => x.error)) process.stdout.write(`\n${r.host}: ${r.error}\n`);
      // not a failure: pushes to such a host send everything over SFTP
      for (const r of results.filter((x) => x.receiverNote)) process.stdout.write(`\n${r.host}: receiver: ${r.receiverNote}\n`);
      for (const e of excludes) process.stdout.write(`\nexclude ${JSON.stringify(e.pattern)}: ${e.matches} path(s) under ${e.root}${e.examples.length ? `, e.g. ${e.examples.join(', ')}` : ''}`);
      if (excludes.length) process.stdout.write('\n');
      process.stdout.write(code === EXIT.OK ? '\nall hosts ok\n' : '\n');
    }
    setExit(code);
  },
};

interface ExcludeReport {
  pattern: string;
  root: string;
  matches: number;
  examples: string[];
}

/** What each exclude pattern matches in this host's own root, when it is one of the ring (USERS.md: exclude rules surprise people). */
async function excludeReport(config: Config, host?: string): Promise<ExcludeReport[]> {
  const me = config.hosts.find((h) => h.name === (host ?? process.env.CHAIN_HOST ?? hostname()));
  const root = me?.root;
  if (!root || !existsSync(root) || config.exclude.length === 0) return [];
  const out: ExcludeReport[] = [];
  for (const pattern of config.exclude) {
    // the same rule as core/exclude.ts: a leading "/" or a "/" inside anchors at the root
    const anchored = pattern.replace(/^\/+/, '');
    const glob = pattern.includes('/') ? anchored : `**/${anchored}`;
    const found = await fg(glob, { cwd: root, dot: true, onlyFiles: false, followSymbolicLinks: false, ignore: ['.chain/**'], suppressErrors: true });
    out.push({ pattern, root, matches: found.length, examples: found.slice(0, 3) });
  }
  return out;
}

export type { HostCheck };
