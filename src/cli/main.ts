// The command line: yargs parses, commands run, and this is the one place that turns outcomes and
// errors into exit codes (0 done, 1 failed, 2 usage/config, 3 partial, 75 busy) and messages.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ChainError } from '../core/errors.js';
import { EXIT, type ExitCode } from '../core/exit-codes.js';
import { takeExit } from './exit.js';
import { initCommand } from './commands/init.js';
import { checkCommand } from './commands/check.js';
import { trustCommand } from './commands/trust.js';
import { watchCommand } from './commands/watch.js';
import { pushCommand } from './commands/push.js';
import { repairCommand } from './commands/repair.js';
import { statusCommand } from './commands/status.js';
import { completionCommand } from './commands/completion.js';
import type { GlobalArgs } from './context.js';

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
    .command(initCommand)
    .command(checkCommand)
    .command(trustCommand)
    .command(watchCommand)
    .command(pushCommand)
    .command(repairCommand)
    .command(statusCommand)
    .command(completionCommand)
    .demandCommand(1, 'name a command (see chain --help)')
    .recommendCommands()
    .strict()
    .help()
    .alias('h', 'help')
    .version()
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
