// chain trust [HOST..]: fetch each host's key, show its fingerprint, and record it in known_hosts.
// A host whose recorded key differs is never overwritten: that is what an attack looks like too.
import type { Argv, CommandModule } from 'yargs';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../../core/errors.js';
import { EXIT } from '../../core/exit-codes.js';
import { entryLine, lookup } from '../../transport/known-hosts.js';
import { probeHostKey } from '../../transport/ssh.js';
import { loadFromArgs, makeLogger, type GlobalArgs } from '../context.js';
import { setExit } from '../exit.js';

interface TrustArgs extends GlobalArgs {
  hosts?: string[];
}

export const trustCommand: CommandModule<GlobalArgs, TrustArgs> = {
  command: 'trust [hosts..]',
  describe: "show each host's key fingerprint and add it to known_hosts",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional('hosts', { type: 'string', array: true, describe: 'ring members to trust (default: all)' })
      .example('chain trust', 'record the keys of every host in the ring')
      .example('chain trust hermes', 'only hermes (compare the fingerprint with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` run on hermes)'),
  handler: async (argv) => {
    const config = loadFromArgs(argv);
    const log = makeLogger(argv);
    const names = argv.hosts?.length ? argv.hosts : config.hosts.map((h) => h.name);
    const hosts = names.map((n) => {
      const h = config.hosts.find((x) => x.name.toLowerCase() === n.toLowerCase());
      if (!h) throw new ConfigError(`${config.file}: no host named "${n}" in the ring (hosts: ${config.hosts.map((x) => x.name).join(', ')})`);
      return h;
    });
    const file = config.ssh.knownHosts;
    let failed = 0;
    let unreachable = 0;
    const rows: Record<string, unknown>[] = [];
    for (const h of hosts) {
      let key;
      try {
        key = await probeHostKey(h.address, h.port, config.ssh.connectTimeout);
      } catch (err) {
        unreachable++;
        log.error(`${h.name} (${h.address}:${h.port}): ${(err as Error).message}`);
        rows.push({ host: h.name, status: 'unreachable', error: (err as Error).message });
        continue;
      }
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
      const found = lookup(text, h.address, h.port, key.blob);
      let status: string = found.status;
      if (found.status === 'unknown') {
        mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
        const sep = text.length && !text.endsWith('\n') ? '\n' : '';
        appendFileSync(file, sep + entryLine(h.address, h.port, key.keyType, key.blob) + '\n', { mode: 0o600 });
        status = 'added';
        if (!argv.json) process.stdout.write(`${h.name} (${h.address}:${h.port}) ${key.keyType} ${key.fingerprint}: added to ${file}\n`);
      } else if (found.status === 'ok') {
        if (!argv.json) process.stdout.write(`${h.name} (${h.address}:${h.port}) ${key.keyType} ${key.fingerprint}: already trusted\n`);
      } else {
        failed++;
        log.error(
          `${h.name} (${h.address}:${h.port}) presents ${key.keyType} ${key.fingerprint}, but ${file} records ${found.knownFingerprints.join(', ') || 'another key'}` +
            (found.status === 'revoked' ? ' (this key is marked @revoked)' : '') +
            `. This may be an attack (or the host was reinstalled). Verify the fingerprint on the host, then remove the old entry with: ssh-keygen -R ${JSON.stringify(h.port === 22 ? h.address : `[${h.address}]:${h.port}`)} -f ${file}`,
        );
      }
      rows.push({ host: h.name, address: h.address, port: h.port, keyType: key.keyType, fingerprint: key.fingerprint, status });
    }
    if (argv.json) process.stdout.write(JSON.stringify({ knownHosts: file, hosts: rows }, null, 2) + '\n');
    setExit(failed ? EXIT.FAILED : unreachable ? EXIT.PARTIAL : EXIT.OK);
  },
};
