import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { Ring, resolveSelf } from '../../src/config/ring.js';
import { ConfigError } from '../../src/core/errors.js';

const config = parseConfig(
  `root: /data
hosts:
  - { name: apollo, address: 10.0.0.1 }
  - { name: chronos, address: 10.0.0.2 }
  - { name: hermes, address: 10.0.0.3 }
  - { name: web01.example.com, address: 10.0.0.4 }
`,
  '/etc/chain/chain.yaml',
  { home: '/home/u', defaultUser: 'u' },
);

const selfRows: { name: string; flag?: string; env?: string; hostname: string; want: number | RegExp[] }[] = [
  { name: '--host wins', flag: 'hermes', env: 'chronos', hostname: 'apollo', want: 2 },
  { name: 'CHAIN_HOST next', env: 'chronos', hostname: 'apollo', want: 1 },
  { name: 'the hostname last', hostname: 'apollo', want: 0 },
  { name: 'the short hostname', hostname: 'hermes.example.com', want: 2 },
  { name: 'a full hostname that is a name', hostname: 'web01.example.com', want: 3 },
  { name: 'case does not count', hostname: 'APOLLO.lan', want: 0 },
  { name: 'an empty --host counts as unset', flag: '', hostname: 'chronos', want: 1 },
  {
    name: 'unknown --host names the file, value, source and the ring',
    flag: 'zeus',
    hostname: 'apollo',
    want: [/"zeus" \(from --host\)/, /\/etc\/chain\/chain\.yaml/, /apollo, chronos, hermes, web01\.example\.com/],
  },
  { name: 'unknown CHAIN_HOST', env: 'zeus', hostname: 'apollo', want: [/"zeus" \(from CHAIN_HOST\)/] },
  // --host and CHAIN_HOST are taken literally: only the OS hostname is shortened.
  { name: 'no short-name match for --host', flag: 'apollo.lan', hostname: 'x', want: [/"apollo\.lan" \(from --host\)/] },
  { name: 'unknown hostname', hostname: 'build-box', want: [/"build-box" \(from the hostname of this machine\)/] },
];

for (const row of selfRows) {
  test(`resolveSelf: ${row.name}`, () => {
    const env = row.env === undefined ? {} : { CHAIN_HOST: row.env };
    const run = () => resolveSelf(config, { flag: row.flag, env, hostname: row.hostname });
    if (typeof row.want === 'number') return assert.equal(run(), row.want);
    const patterns = row.want;
    assert.throws(run, (e: unknown) => {
      assert.ok(e instanceof ConfigError && e.exitCode === 2);
      for (const p of patterns) assert.match(e.message, p);
      return true;
    });
  });
}

const names = (hs: readonly { name: string }[]) => hs.map((h) => h.name);

test('Ring: successor, predecessor and bypass order wrap around', () => {
  const rows: [number, string, string, string[]][] = [
    [0, 'chronos', 'web01.example.com', ['chronos', 'hermes', 'web01.example.com']],
    [1, 'hermes', 'apollo', ['hermes', 'web01.example.com', 'apollo']],
    [3, 'apollo', 'hermes', ['apollo', 'chronos', 'hermes']],
  ];
  for (const [self, next, prev, after] of rows) {
    const ring = new Ring(config, self);
    assert.equal(ring.self.name, config.hosts[self]!.name);
    assert.equal(ring.successor().name, next);
    assert.equal(ring.predecessor().name, prev);
    assert.deepEqual(names(ring.after()), after);
  }
  assert.deepEqual(names(new Ring(config, 0).after(2)), ['web01.example.com', 'apollo', 'chronos']);
});

test('Ring of two: each host is the other one\'s successor and predecessor', () => {
  const two = { ...config, hosts: config.hosts.slice(0, 2) };
  const ring = new Ring(two, 1);
  assert.equal(ring.successor().name, 'apollo');
  assert.equal(ring.predecessor().name, 'apollo');
  assert.deepEqual(names(ring.after()), ['apollo']);
});

test('Ring.host finds by name, ignoring case; an unknown name is a ConfigError listing the ring', () => {
  const ring = new Ring(config, 0);
  assert.equal(ring.host('Hermes').address, '10.0.0.3');
  assert.throws(() => ring.host('zeus'), (e: unknown) => e instanceof ConfigError && /"zeus"/.test(e.message) && /apollo, chronos/.test(e.message));
});

test('Ring refuses a self index outside the ring', () => {
  assert.throws(() => new Ring(config, 4), RangeError);
  assert.throws(() => new Ring(config, -1), RangeError);
});
