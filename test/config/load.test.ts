// parseConfig as a table: each good config with the resolved fields it must give, each bad config
// with the message fragments (file:line:col and key) it must produce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Config, type LoadOptions, loadConfig, parseConfig } from '../../src/config/load.js';
import { ConfigInvalidError } from '../../src/config/problems.js';
import { ConfigError } from '../../src/core/errors.js';

const OPTS: LoadOptions = { home: '/home/u', defaultUser: 'u' };
const FILE = '/etc/chain/chain.yaml';
const RING = `hosts:
  - { name: a, address: 10.0.0.1 }
  - { name: b, address: 10.0.0.2 }
`;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> | T[K] : T[K] };

interface Good {
  name: string;
  yaml: string;
  want: DeepPartial<Config>;
  /** keys that must be absent from the resolved config */
  unset?: string[];
  opts?: LoadOptions;
}

const good: Good[] = [
  {
    name: 'the smallest config: root and two hosts, everything else defaulted',
    yaml: `root: /data\n${RING}`,
    want: {
      file: FILE,
      root: '/data',
      interval: 1000,
      ssh: { user: 'u', knownHosts: '/home/u/.ssh/known_hosts', connectTimeout: 10_000 },
      exclude: [],
      delete: true,
      trash: 7 * 86_400_000,
      conflicts: 'newer',
      bypass: 60_000,
      state: '/var/lib/chain',
      receiver: 'chain',
      hosts: [
        { name: 'a', address: '10.0.0.1', port: 22, user: 'u', root: '/data', state: '/var/lib/chain', receiver: 'chain', line: 3 },
        { name: 'b', address: '10.0.0.2', port: 22, user: 'u', root: '/data', state: '/var/lib/chain', line: 4 },
      ],
    },
    unset: ['metrics', 'ssh.identity', 'hosts.0.identity'],
  },
  {
    name: 'the example of DESIGN.md',
    yaml: `root: /var/www/html/images
interval: 1s
hosts:
  - { name: apollo,  address: 10.0.0.11 }
  - { name: chronos, address: 10.0.0.12, port: 2222 }
  - { name: hermes,  address: 10.0.0.13, root: /srv/images }
ssh:
  user: chain
  identity: ~/.ssh/chain_ed25519
  knownHosts: ~/.ssh/known_hosts
  connectTimeout: 10s
exclude: ["*.tmp", "cache/**"]
delete: true
trash: 7d
conflicts: newer
bypass: 60s
state: /var/lib/chain
metrics: 127.0.0.1:9464
`,
    want: {
      ssh: { user: 'chain', identity: '/home/u/.ssh/chain_ed25519', knownHosts: '/home/u/.ssh/known_hosts', connectTimeout: 10_000 },
      exclude: ['*.tmp', 'cache/**'],
      metrics: { host: '127.0.0.1', port: 9464 },
      hosts: [
        { name: 'apollo', port: 22, user: 'chain', identity: '/home/u/.ssh/chain_ed25519', root: '/var/www/html/images', line: 4 },
        { name: 'chronos', port: 2222, root: '/var/www/html/images', line: 5 },
        { name: 'hermes', port: 22, root: '/srv/images', line: 6 },
      ],
    },
  },
  {
    name: 'every per-host key overridden; ~ expanded in identity and state',
    yaml: `root: /data
state: ~/chain-state
ssh: { user: chain, identity: /keys/ring }
hosts:
  - name: a
    address: a.example.net
    port: 2201
    user: deploy
    identity: ~/.ssh/a_key
    root: /srv/a/
    state: /srv/a-state
  - { name: b, address: b.example.net }
`,
    want: {
      state: '/home/u/chain-state',
      hosts: [
        { name: 'a', address: 'a.example.net', port: 2201, user: 'deploy', identity: '/home/u/.ssh/a_key', root: '/srv/a', state: '/srv/a-state', line: 5 },
        { name: 'b', port: 22, user: 'chain', identity: '/keys/ring', root: '/data', state: '/home/u/chain-state', line: 12 },
      ],
    },
  },
  {
    name: 'switches off: delete, trash, bypass; conflicts keep; metrics as a bare port',
    yaml: `root: /data\n${RING}delete: false\ntrash: false\nbypass: false\nconflicts: keep\nmetrics: 9100\n`,
    want: { delete: false, trash: false, bypass: false, conflicts: 'keep', metrics: { host: '127.0.0.1', port: 9100 } },
  },
  {
    name: 'true for trash and bypass means the default; metrics on IPv6',
    yaml: `root: /data\n${RING}trash: true\nbypass: true\nmetrics: "[::1]:9100"\n`,
    want: { trash: 7 * 86_400_000, bypass: 60_000, metrics: { host: '::1', port: 9100 } },
  },
  {
    name: 'receiver: off at the top, a host naming its own; true is the default command',
    yaml: `root: /data\nreceiver: false\nhosts:\n  - { name: a, address: 10.0.0.1, receiver: /opt/chain/bin/chain }\n  - { name: b, address: 10.0.0.2 }\n`,
    want: { receiver: false, hosts: [{ name: 'a', receiver: '/opt/chain/bin/chain' }, { name: 'b', receiver: false }] },
  },
  {
    name: 'receiver: true is chain; a host may switch it off',
    yaml: `root: /data\nreceiver: true\nhosts:\n  - { name: a, address: 10.0.0.1, receiver: false }\n  - { name: b, address: 10.0.0.2 }\n`,
    want: { receiver: 'chain', hosts: [{ name: 'a', receiver: false }, { name: 'b', receiver: 'chain' }] },
  },
  {
    name: 'durations: bare numbers are seconds, compound forms',
    yaml: `root: /data\n${RING}interval: 0.25\nbypass: 1h30m\ntrash: 36h\nssh: { connectTimeout: 3 }\n`,
    want: { interval: 250, bypass: 5_400_000, trash: 36 * 3_600_000, ssh: { connectTimeout: 3000 } },
  },
  {
    name: 'empty keys take their defaults; a single exclude glob is a list of one',
    yaml: `root: /data/\n${RING}interval:\nssh:\nexclude: "*.swp"\nmetrics:\n`,
    want: { root: '/data', interval: 1000, exclude: ['*.swp'], ssh: { user: 'u' } },
    unset: ['metrics'],
  },
  {
    name: 'exclude written as a block with every item commented out',
    yaml: `root: /data\n${RING}exclude:\n  # - "*.tmp"\n`,
    want: { exclude: [] },
  },
  {
    name: 'relative identity and knownHosts are relative to the config file',
    yaml: `root: /data\n${RING}ssh: { identity: keys/id, knownHosts: ./known }\n`,
    want: { ssh: { identity: '/etc/chain/keys/id', knownHosts: '/etc/chain/known' } },
  },
  {
    name: 'a quoted port; one machine, one address, a port and root per host',
    yaml: `root: /unused
hosts:
  - { name: a, address: 127.0.0.1, port: "2201", root: /tmp/ring/a }
  - { name: b, address: 127.0.0.1, port: 2202, root: /tmp/ring/b }
  - { name: c, address: 127.0.0.1, port: 2202, root: /tmp/ring/c }
`,
    want: { hosts: [{ port: 2201, root: '/tmp/ring/a' }, { port: 2202 }, { port: 2202, root: '/tmp/ring/c' }] },
  },
  {
    name: 'no user name for this process is fine when every login user is set',
    yaml: `root: /data\nssh: { user: chain }\n${RING}`,
    opts: { home: '/home/u', defaultUser: null },
    want: { hosts: [{ user: 'chain' }, { user: 'chain' }] },
  },
  {
    name: 'anchors and aliases resolve',
    yaml: `root: /data\nhosts:\n  - { name: a, address: 10.0.0.1, port: &p 2222 }\n  - { name: b, address: 10.0.0.2, port: *p }\n`,
    want: { hosts: [{ port: 2222 }, { port: 2222 }] },
  },
];

for (const row of good) {
  test(`good: ${row.name}`, () => {
    const config = parseConfig(row.yaml, FILE, row.opts ?? OPTS);
    assertSubset(config, row.want, 'config');
    for (const path of row.unset ?? []) {
      const parts = path.split('.');
      const parent = parts.slice(0, -1).reduce<any>((o, k) => o[k], config);
      assert.ok(!(parts.at(-1)! in parent), `${path} should be unset`);
    }
  });
}

function assertSubset(actual: unknown, want: unknown, where: string): void {
  if (want !== null && typeof want === 'object') {
    assert.ok(actual !== null && typeof actual === 'object', `${where}: expected an object`);
    if (Array.isArray(want)) assert.equal((actual as unknown[]).length, want.length, `${where}: length`);
    for (const [k, v] of Object.entries(want)) assertSubset((actual as Record<string, unknown>)[k], v, `${where}.${k}`);
  } else {
    assert.deepEqual(actual, want, where);
  }
}

interface Bad {
  name: string;
  yaml: string;
  /** every fragment must appear in the message */
  want: string[];
  /** how many problems (lines) the message must hold; default 1 */
  count?: number;
  opts?: LoadOptions;
}

const F = 'chain.yaml';
const bad: Bad[] = [
  { name: 'YAML syntax error (an unclosed [ is reported where the file ends)', yaml: `root: /data\nhosts: [a\n`, want: [`${F}:3:`, 'YAML syntax error'] },
  { name: 'tab indentation', yaml: `root: /data\nssh:\n\tuser: x\n`, want: [`${F}:3:`, 'YAML syntax error'] },
  { name: 'a key twice in one map', yaml: `root: /data\n${RING}interval: 1s\ninterval: 2s\n`, want: [`${F}:6:1:`, 'key "interval" appears twice'] },
  { name: 'two YAML documents', yaml: `root: /data\n---\nroot: /x\n`, want: [`${F}:2:`, 'YAML syntax error'] },
  { name: 'alias without anchor', yaml: `root: /data\n${RING}interval: *ival\n`, want: [`${F}:5:11:`, 'alias *ival has no anchor'] },
  { name: 'empty file', yaml: `# nothing yet\n`, want: [`${F}: no settings`, 'chain init'] },
  { name: 'top level is a list', yaml: `- root: /data\n`, want: [`${F}:1:1:`, 'top level must be a map', 'got a list'] },

  { name: 'unknown top-level key', yaml: `root: /data\n${RING}intervall: 2s\n`, want: [`${F}:5:1: unknown key "intervall" (did you mean "interval"?)`] },
  { name: 'unknown host key', yaml: `root: /data\nhosts:\n  - { name: a, address: x, prot: 22 }\n  - { name: b, address: y }\n`, want: [`${F}:3:28:`, 'unknown key "prot" in hosts[0] (did you mean "port"?)'] },
  { name: 'unknown ssh key', yaml: `root: /data\n${RING}ssh:\n  known_hosts: /k\n`, want: [`${F}:6:3:`, 'unknown key "known_hosts" in ssh (did you mean "knownHosts"?)'] },
  { name: 'a host key at the top level', yaml: `root: /data\n${RING}port: 2222\n`, want: [`${F}:5:1:`, 'unknown key "port"', 'set on a host entry'] },

  { name: 'bad duration', yaml: `root: /data\n${RING}interval: 5 minutes\n`, want: [`${F}:5:11: interval: bad duration "5 minutes"`, '500ms, 1s, 1.5s, 2m, 1h, 7d'] },
  { name: 'zero interval', yaml: `root: /data\n${RING}interval: 0s\n`, want: [`${F}:5:11: interval: must be longer than 0`] },
  { name: 'timer too long', yaml: `root: /data\n${RING}bypass: 30d\n`, want: [`${F}:5:9: bypass: must be at most 24d`] },
  { name: 'zero trash', yaml: `root: /data\n${RING}trash: 0\n`, want: [`${F}:5:8: trash:`, 'write false for no trash'] },
  { name: 'negative connectTimeout', yaml: `root: /data\n${RING}ssh: { connectTimeout: -5 }\n`, want: [`${F}:5:`, 'ssh.connectTimeout: bad duration -5'] },
  { name: 'receiver empty', yaml: `root: /data\n${RING}receiver: ""\n`, want: [`${F}:5:11: receiver: expected the command that runs chain on the host`, 'or false'] },
  { name: 'receiver a number', yaml: `root: /data\n${RING}receiver: 5\n`, want: [`${F}:5:11: receiver: expected the command`, 'got 5'] },
  { name: 'receiver on two lines', yaml: `root: /data\n${RING}receiver: "chain\\nrm -rf /"\n`, want: [`${F}:5:11: receiver: must be one line`] },
  { name: 'duration of the wrong type', yaml: `root: /data\n${RING}interval: [1s]\n`, want: [`${F}:5:11: interval: expected a duration`, 'got a list'] },

  { name: 'hosts not a list', yaml: `root: /data\nhosts: { a: 1 }\n`, want: [`${F}:2:8: hosts: expected a list of hosts`, 'got a map'] },
  { name: 'ssh not a map', yaml: `root: /data\n${RING}ssh: chain\n`, want: [`${F}:5:6: ssh: expected a map of ssh settings`, 'got "chain"'] },
  { name: 'delete: yes', yaml: `root: /data\n${RING}delete: yes\n`, want: [`${F}:5:9: delete: expected true or false, got "yes"`, 'YAML 1.2'] },
  { name: 'host entry not a map', yaml: `root: /data\nhosts:\n  - a\n  - { name: b, address: y }\n`, want: [`${F}:3:5: hosts[0]: expected a host entry`, 'got "a"'] },
  { name: 'exclude not a list', yaml: `root: /data\n${RING}exclude: { a: 1 }\n`, want: [`${F}:5:10: exclude: expected a list of globs`, 'got a map'] },

  {
    name: 'duplicate host name names both lines',
    yaml: `root: /data\nhosts:\n  - { name: apollo, address: x }\n  - { name: b, address: y }\n  - { name: Apollo, address: z }\n`,
    want: [`${F}:5:13: hosts[2].name: duplicate host name "Apollo"`, 'hosts[0] (line 3)'],
  },
  { name: 'ring of one', yaml: `root: /data\nhosts:\n  - { name: a, address: x }\n`, want: [`${F}:3:3: hosts: a ring needs at least 2 hosts`] },
  { name: 'ring of none', yaml: `root: /data\nhosts: []\n`, want: [`${F}:2:8: hosts: a ring needs at least 2 hosts`] },
  { name: 'hosts missing', yaml: `root: /data\n`, want: [`${F}:1:1: hosts: missing`] },
  { name: 'host without name or address', yaml: `root: /data\nhosts:\n  - { port: 22 }\n  - { name: b, address: y }\n`, want: [`${F}:3:5: hosts[0].name: missing`, `${F}:3:5: hosts[0].address: missing`], count: 2 },
  { name: 'host name with a colon', yaml: `root: /data\nhosts:\n  - { name: "a:1", address: x }\n  - { name: b, address: y }\n`, want: [`${F}:3:13: hosts[0].name: "a:1" is not a valid host name`] },
  { name: 'host name a number', yaml: `root: /data\nhosts:\n  - { name: 1, address: x }\n  - { name: b, address: y }\n`, want: [`hosts[0].name: expected a name, got the number 1: quote it`] },
  { name: 'address with a user', yaml: `root: /data\nhosts:\n  - { name: a, address: me@x }\n  - { name: b, address: y }\n`, want: [`${F}:3:25: hosts[0].address:`, 'set user and port as their own keys'] },
  {
    name: 'two hosts in the same place',
    yaml: `root: /data\nhosts:\n  - { name: a, address: x }\n  - { name: b, address: y }\n  - { name: c, address: X }\n`,
    want: [`${F}:5:5: hosts[2]: c and a (line 3) are the same place`],
  },

  { name: 'root missing', yaml: RING, want: [`${F}:1:1: root: missing`] },
  { name: 'root relative', yaml: `root: data\n${RING}`, want: [`${F}:1:7: root: must be an absolute path`] },
  { name: 'root with ~', yaml: `root: ~/data\n${RING}`, want: [`${F}:1:7: root:`, '"~" is not expanded in root'] },
  { name: 'root is /', yaml: `root: /tmp/..\n${RING}`, want: [`root: refusing to replicate /`] },
  { name: 'host root relative', yaml: `root: /data\nhosts:\n  - { name: a, address: x }\n  - { name: b, address: y, root: srv }\n`, want: [`${F}:4:34: hosts[1].root: must be an absolute path`] },
  { name: 'state relative', yaml: `root: /data\n${RING}state: var/chain\n`, want: [`${F}:5:8: state: must be an absolute path`] },
  { name: '~user in identity', yaml: `root: /data\n${RING}ssh: { identity: ~bob/key }\n`, want: [`ssh.identity: cannot expand "~bob/key"`] },

  { name: 'port out of range', yaml: `root: /data\nhosts:\n  - { name: a, address: x, port: 70000 }\n  - { name: b, address: y, port: 0 }\n`, want: [`${F}:3:34: hosts[0].port: expected a port number from 1 to 65535, got 70000`, `${F}:4:34: hosts[1].port:`], count: 2 },
  { name: 'port not a number', yaml: `root: /data\nhosts:\n  - { name: a, address: x, port: ssh }\n  - { name: b, address: y, port: 22.5 }\n`, want: [`hosts[0].port: expected a port number from 1 to 65535, got "ssh"`, 'hosts[1].port:', 'got 22.5'], count: 2 },

  { name: 'bad conflicts value', yaml: `root: /data\n${RING}conflicts: newest\n`, want: [`${F}:5:12: conflicts: expected newer or keep, got "newest" (did you mean "newer"?)`] },

  { name: 'unclosed bracket in a glob', yaml: `root: /data\n${RING}exclude: ["ok/**", "[abc"]\n`, want: [`${F}:5:20: exclude[1]: "[abc" is not a valid glob`] },
  { name: 'doubly anchored glob', yaml: `root: /data\n${RING}exclude:\n  - //cache/**\n`, want: [`${F}:6:5: exclude[0]:`, 'drop the others'] },
  { name: 'negated glob', yaml: `root: /data\n${RING}exclude: ["!keep"]\n`, want: [`exclude[0]:`, 'negated globs'] },
  { name: 'glob with a trailing slash', yaml: `root: /data\n${RING}exclude: ["cache/"]\n`, want: [`exclude[0]:`, 'drop the trailing "/"'] },
  { name: 'glob that excludes everything', yaml: `root: /data\n${RING}exclude: ["**"]\n`, want: [`exclude[0]:`, 'would exclude everything'] },
  { name: 'glob with a bad range', yaml: `root: /data\n${RING}exclude: ["a[z-a]"]\n`, want: [`exclude[0]:`, 'is not a valid glob'] },

  { name: 'metrics without a host', yaml: `root: /data\n${RING}metrics: ":9464"\n`, want: [`${F}:5:10: metrics:`, '0.0.0.0:9464'] },
  { name: 'metrics with a bad port', yaml: `root: /data\n${RING}metrics: localhost:99999\n`, want: [`metrics: expected host:port`] },

  {
    name: 'no login user can be found',
    yaml: `root: /data\n${RING}`,
    opts: { home: '/home/u', defaultUser: null },
    want: ['ssh.user: cannot tell which user to log in as', 'set ssh.user'],
  },
  {
    name: 'every problem is reported, one per line, in file order',
    yaml: `root: data
intervall: 1s
hosts:
  - { name: a, address: x, port: 0 }
  - { name: a, address: y }
conflicts: nope
`,
    want: [
      `${F}:1:7: root:`,
      `${F}:2:1: unknown key "intervall"`,
      `${F}:4:34: hosts[0].port:`,
      `${F}:5:13: hosts[1].name: duplicate`,
      `${F}:6:12: conflicts:`,
    ],
    count: 5,
  },
];

for (const row of bad) {
  test(`bad: ${row.name}`, () => {
    assert.throws(
      () => parseConfig(row.yaml, F, row.opts ?? OPTS),
      (e: unknown) => {
        assert.ok(e instanceof ConfigInvalidError, `expected ConfigInvalidError, got ${String(e)}`);
        assert.ok(e instanceof ConfigError && e.exitCode === 2);
        for (const w of row.want) assert.ok(e.message.includes(w), `message lacks ${JSON.stringify(w)}:\n${e.message}`);
        const lines = e.message.split('\n');
        assert.equal(lines.length, row.count ?? 1, `problem count:\n${e.message}`);
        assert.equal(e.problems.length, lines.length);
        for (const l of lines) assert.ok(l.startsWith(`${F}:`) || l.startsWith(`${F} `), `each line names the file: ${l}`);
        return true;
      },
    );
  });
}

test('problems are sorted by line in the message', () => {
  try {
    parseConfig(`root: data\n${RING}conflicts: x\nintervall: 1\n`, F, OPTS);
    assert.fail('should throw');
  } catch (e) {
    const lines = (e as Error).message.split('\n').map((l) => Number(l.split(':')[1]));
    assert.deepEqual(lines, [...lines].sort((a, b) => a - b));
  }
});

test('loadConfig reads a file; Config.file is absolute; a missing file is a ConfigError naming it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'chain-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'chain.yaml');
  writeFileSync(file, `root: /data\n${RING}`);
  assert.equal(loadConfig(file, OPTS).file, file);
  assert.throws(() => loadConfig(join(dir, 'nope.yaml'), OPTS), (e: unknown) => e instanceof ConfigError && e.exitCode === 2 && /nope\.yaml does not exist/.test(e.message) && /chain init/.test(e.hint ?? ''));
  mkdirSync(join(dir, 'adir'));
  assert.throws(() => loadConfig(join(dir, 'adir'), OPTS), /is a directory/);
  writeFileSync(file, `root: /data\n${RING}intervall: 1s\n`);
  assert.throws(() => loadConfig(file, OPTS), (e: unknown) => e instanceof ConfigError && e.message.startsWith(`${file}:5:1: unknown key "intervall"`));
});
