// The message for a key chain does not know: the nearest key of the same section ("intervall" →
// "interval"), a synonym from tools people come from (ssh_config, lsyncd), or the section the key
// really belongs in ("port" at the top level is set per host).
import { HOST_KEYS, SSH_KEYS, TOP_KEYS } from './schema.js';
import { closest } from './suggest.js';

export type Section = 'top' | 'ssh' | 'host';

const KEYS: Record<Section, readonly string[]> = { top: TOP_KEYS, ssh: SSH_KEYS, host: HOST_KEYS };

const WHERE: Record<Section, string> = {
  top: 'at the top level',
  ssh: 'under ssh:',
  host: 'on a host entry under hosts:',
};

// Keys are folded (lower case, no "-" or "_") before lookup.
const SYNONYMS: Record<Section, Record<string, string>> = {
  top: {
    source: 'root', dir: 'root', directory: 'root', path: 'root', target: 'root',
    delay: 'interval', ignore: 'exclude', excludes: 'exclude', conflict: 'conflicts',
    statedir: 'state', prometheus: 'metrics', host: 'hosts', nodes: 'hosts', servers: 'hosts', ring: 'hosts',
  },
  ssh: {
    timeout: 'connectTimeout', identityfile: 'identity', key: 'identity', privatekey: 'identity',
    userknownhostsfile: 'knownHosts', username: 'user', login: 'user',
  },
  host: {
    host: 'address', hostname: 'address', ip: 'address', addr: 'address',
    dir: 'root', path: 'root', target: 'root', username: 'user', key: 'identity', identityfile: 'identity',
  },
};

const fold = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');

/** `unknown key "prot" in hosts[1] (did you mean "port"?)` */
export function unknownKeyMessage(section: Section, key: string, where: string): string {
  const head = `unknown key ${JSON.stringify(key)}${where ? ` in ${where}` : ''}`;
  const same = closest(key, KEYS[section]) ?? SYNONYMS[section][fold(key)];
  if (same) return `${head} (did you mean "${same}"?)`;
  for (const other of (['top', 'ssh', 'host'] as const).filter((s) => s !== section)) {
    const there = closest(key, KEYS[other]) ?? SYNONYMS[other][fold(key)];
    if (there) return `${head} ("${there}" is set ${WHERE[other]})`;
  }
  return `${head}; the keys ${WHERE[section]} are: ${KEYS[section].join(', ')}`;
}
