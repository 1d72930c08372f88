// chain receive ROOT: the receiving end of a push, started over SSH by the ring member that pushes
// to this host (transport/receive-client.ts), never by hand. It speaks transport/receive-wire.ts
// on its standard input and output and writes files under ROOT exactly as a push over SFTP would.
// Needs no config: the pusher names the root.
import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { EXIT } from '../../core/exit-codes.js';
import { underRoot } from '../../core/paths.js';
import { receive } from '../../transport/receive-server.js';
import type { GlobalArgs } from '../context.js';
import { setExit } from '../exit.js';

interface ReceiveArgs extends GlobalArgs {
  root?: string;
}

export const receiveCommand: CommandModule<GlobalArgs, ReceiveArgs> = {
  command: 'receive <root>',
  describe: 'the receiving end of a push over SSH (run by the pushing host, not by hand)',
  builder: (y: Argv<GlobalArgs>) => y.positional('root', { type: 'string', describe: "this host's root (absolute)" }),
  handler: async (argv) => {
    const root = argv.root ?? '';
    // refused before the marker: the pusher then sends over SFTP, which names the trouble itself
    if (!isAbsolute(root)) return fail(EXIT.USAGE, `chain receive: the root must be an absolute path, got ${JSON.stringify(root)}`);
    let dir = false;
    try {
      dir = statSync(root).isDirectory();
    } catch {
      /* reported below */
    }
    if (!dir) return fail(EXIT.FAILED, `chain receive: ${root} is not a directory on this host`);
    try {
      // --verbose: a line per file written, on stderr (which sshd hands to the pushing chain;
      // a wrapper script may send it to a log instead, as sftp-server's -l INFO does)
      const onWrite = argv.verbose ? (rel: string) => void process.stderr.write(`receive ${JSON.stringify(underRoot(root, rel))}\n`) : undefined;
      await receive(root, { input: process.stdin, output: process.stdout, onWrite });
    } catch (err) {
      return fail(EXIT.USAGE, `chain receive: ${(err as Error).message}; this command is run over SSH by a pushing chain of the same version`);
    }
    setExit(EXIT.OK);
  },
};

function fail(code: (typeof EXIT)[keyof typeof EXIT], message: string): void {
  process.stderr.write(message + '\n');
  setExit(code);
}
