// The command line: yargs parses, commands run, and this is the one place that turns outcomes and
// errors into exit codes (0 done, 1 failed, 2 usage/config, 3 partial, 75 busy) and messages.
// Only the module of the command being run is loaded (a watch never loads repair's, nor ora or
// prom-client unless it uses them): that is most of a command's start-up time and of an idle
// daemon's memory. --help, a bare `chain` and anything commandsOf cannot read load them all.
import yargs from 'yargs';
import type { CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ChainError } from '../core/errors.js';
import { EXIT, type ExitCode } from '../core/exit-codes.js';
import { takeExit } from './exit.js';
import { chainVersion } from './version.js';
import type { GlobalArgs } from './context.js';

type Command = CommandModule<GlobalArgs, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** every command, in the order --help lists them */
const COMMANDS: Record<string, () => Promise<Command>> = {
  init: async () => (await import('./commands/init.js')).initCommand,
  check: async () => (await import('./commands/check.js')).checkCommand,
  trust: async () => (await import('./commands/trust.js')).trustCommand,
  watch: async () => (await import('./commands/watch.js')).watchCommand,
  push: async () => (await import('./commands/push.js')).pushCommand,
  repair: async () => (await import('./commands/repair.js')).repairCommand,
  status: async () => (await import('./commands/status.js')).statusCommand,
  completion: async () => (await import('./commands/completion.js')).completionCommand,
  receive: async () => (await import('./commands/receive.js')).receiveCommand,
};

/** global options that take a value (as the next word unless written --opt=value) */
const VALUED = new Set(['--config', '--host', '--log-format', '--logFormat']);
const FLAGS = new Set(['--json', '--no-json', '--verbose', '--quiet', '--progress', '--no-progress', '--version']);

/**
 * Which command modules the command line needs: [] for a bare --version, [name] when the first
 * word after the global options names a command, every command otherwise (--help, no command, a
 * misspelt one: yargs then lists or suggests them). An option it does not know before the command
 * word means "every command": it might take a value that looks like a command name.
 */
export function commandsOf(args: string[]): string[] {
  const all = Object.keys(COMMANDS);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (VALUED.has(a)) i++;
    else if (a.startsWith('--') && VALUED.has(a.slice(0, a.indexOf('=')))) continue;
    else if (FLAGS.has(a.split('=')[0]!)) continue;
    else if (a.startsWith('-')) return all;
    else return a in COMMANDS ? [a] : all;
  }
  return args.includes('--version') ? [] : all;
}

function report(err: unknown, verbose: boolean): ExitCode {
  if (err instanceof ChainError) {
    process.stderr.write(`chain: ${err.message}\n`);
    if (err.hint) process.stderr.write(`  ${err.hint}\n`);
    if (verbose && err.cause) process.stderr.write(`  cause: ${String((err.cause as Error).stack ?? err.cause)}\n`);
    return err.exitCode;
  }
  const e = err as Error;
  process.stderr.write(`chain: ${e?.message ?? String(err)}\n`);
  if (verbose && e?.stack) process.stderr.write(e.stack + '\n');
  return EXIT.FAILED;
}

export async function main(args: string[]): Promise<ExitCode> {
  const verbose = args.includes('--verbose');
  let commands: Command[];
  try {
    commands = await Promise.all(commandsOf(args).map((c) => COMMANDS[c]!()));
  } catch (err) {
    return report(err, verbose);
  }
  const parser = yargs(args)
    .scriptName('chain')
    .usage('$0 [global options] <command>\n\nKeep one directory identical across a ring of hosts over SSH/SFTP.')
    .option('config', { type: 'string', describe: 'config file (default ./chain.yaml, then /etc/chain/chain.yaml; env CHAIN_CONFIG)', global: true })
    .option('host', { type: 'string', describe: 'which ring member this process is (env CHAIN_HOST; default: hostname)', global: true })
    .option('json', { type: 'boolean', describe: 'machine-readable output on stdout', global: true })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const, describe: 'log lines as text or JSON (stderr)', global: true })
    .option('verbose', { type: 'boolean', describe: 'more detail, including debug logs', global: true })
    .option('quiet', { type: 'boolean', describe: 'only warnings and errors', global: true })
    .option('progress', { type: 'boolean', default: true, describe: 'progress display (--no-progress to turn off)', global: true })
    .command(commands)
    .demandCommand(1, 'name a command (see chain --help)')
    .recommendCommands()
    .strict()
    .help()
    .alias('h', 'help')
    .version(chainVersion())
    .epilogue('exit codes: 0 done, 1 failed, 2 usage or config error, 3 partial (a host was unreachable), 75 busy\nman chain, man chain.yaml for the whole story')
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    // throw, never return: yargs goes on to run the command when fail() returns, so a misspelt
    // `repair --dry-runn` would repair for real
    .fail((msg, err) => {
      if (err) throw err;
      throw new ChainError(msg, { exitCode: EXIT.USAGE, hint: 'run "chain --help" for usage' });
    })
    .exitProcess(false);
  try {
    await parser.parseAsync();
  } catch (err) {
    return report(err, verbose);
  }
  return takeExit() ?? EXIT.OK;
}

// `pidof chain`, `pkill -HUP chain` and ps show the command, not "node"
process.title = 'chain';
const code = await main(hideBin(process.argv));
process.exitCode = code;
// a daemon's handles (watcher, sockets) are closed by now; don't let a straggler keep us alive
setTimeout(() => process.exit(code), 2000).unref();

export type { GlobalArgs };
