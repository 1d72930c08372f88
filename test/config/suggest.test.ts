import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closest, editDistance } from '../../src/config/suggest.js';
import { unknownKeyMessage } from '../../src/config/unknown-key.js';

test('editDistance counts insertions, deletions, substitutions and neighbour swaps as one edit each', () => {
  const rows: [string, string, number][] = [
    ['interval', 'interval', 0],
    ['intervall', 'interval', 1],
    ['prot', 'port', 1],
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
  ];
  for (const [a, b, d] of rows) assert.equal(editDistance(a, b), d, `${a} → ${b}`);
});

test('closest finds plausible typos only', () => {
  const keys = ['root', 'interval', 'hosts', 'knownHosts', 'connectTimeout'];
  const rows: [string, string | undefined][] = [
    ['intervall', 'interval'],
    ['known_hosts', 'knownHosts'],
    ['KNOWNHOSTS', 'knownHosts'],
    ['host', 'hosts'],
    ['connect_timeout', 'connectTimeout'],
    ['foo', undefined],
    ['zzzzzzzz', undefined],
  ];
  for (const [word, want] of rows) assert.equal(closest(word, keys), want, word);
});

test('unknownKeyMessage: same section, synonym, other section, or the list of keys', () => {
  const rows: [Parameters<typeof unknownKeyMessage>, string][] = [
    [['top', 'intervall', ''], 'unknown key "intervall" (did you mean "interval"?)'],
    [['host', 'prot', 'hosts[1]'], 'unknown key "prot" in hosts[1] (did you mean "port"?)'],
    [['host', 'hostname', 'hosts[0]'], 'unknown key "hostname" in hosts[0] (did you mean "address"?)'],
    [['ssh', 'IdentityFile', 'ssh'], 'unknown key "IdentityFile" in ssh (did you mean "identity"?)'],
    [['top', 'port', ''], 'unknown key "port" ("port" is set on a host entry under hosts:)'],
    [['top', 'knownHosts', ''], 'unknown key "knownHosts" ("knownHosts" is set under ssh:)'],
    [['host', 'interval', 'hosts[2]'], 'unknown key "interval" in hosts[2] ("interval" is set at the top level)'],
  ];
  for (const [args, want] of rows) assert.equal(unknownKeyMessage(...args), want);
  assert.match(unknownKeyMessage('ssh', 'zzzzzz', 'ssh'), /the keys under ssh: are: user, identity, knownHosts, connectTimeout$/);
});
