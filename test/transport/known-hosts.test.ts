import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  lookup,
  fingerprint,
  entryLine,
  hostString,
  hostMatches,
  wildcardMatch,
  keyTypeOf,
  knownTypes,
  parseKnownHosts,
} from '../../src/transport/known-hosts.js';

// Real keys from ssh-keygen, so blobs, types and fingerprints are what OpenSSH makes.
const dir = mkdtempSync(join(tmpdir(), 'chain-kh-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
function makeKey(name: string, type = 'ed25519'): { type: string; b64: string; blob: Buffer; file: string } {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', file]);
  const [t, b64] = readFileSync(file + '.pub', 'utf8').trim().split(/\s+/);
  return { type: t, b64, blob: Buffer.from(b64, 'base64'), file };
}
const A = makeKey('a');
const B = makeKey('b');
const E = makeKey('e', 'ecdsa');

describe('fingerprint', () => {
  test('equals ssh-keygen -lf', () => {
    for (const k of [A, B, E]) {
      const out = execFileSync('ssh-keygen', ['-lf', k.file + '.pub'], { encoding: 'utf8' });
      assert.equal(fingerprint(k.blob), out.split(/\s+/)[1]);
    }
  });
  test('keyTypeOf reads the type inside the blob', () => {
    assert.equal(keyTypeOf(A.blob), 'ssh-ed25519');
    assert.equal(keyTypeOf(E.blob), 'ecdsa-sha2-nistp256');
    assert.equal(keyTypeOf(Buffer.alloc(2)), '');
  });
});

describe('host patterns', () => {
  const rows: Array<[pattern: string, name: string, expected: boolean]> = [
    ['example.com', 'example.com', true],
    ['EXAMPLE.com', 'example.com', true],
    ['example.com', 'www.example.com', false],
    ['*.example.com', 'www.example.com', true],
    ['*.example.com', 'example.com', false],
    ['web?.example.com', 'web1.example.com', true],
    ['web?.example.com', 'web12.example.com', false],
    ['a.com,b.com', 'b.com', true],
    ['*.example.com,!bad.example.com', 'bad.example.com', false],
    ['!bad.example.com,*.example.com', 'good.example.com', true],
    ['!bad.example.com', 'good.example.com', false], // only negations: nothing matched positively
    ['[10.0.0.1]:2222', '[10.0.0.1]:2222', true],
    ['[10.0.0.1]:2222', '10.0.0.1', false],
    ['10.0.0.1', '[10.0.0.1]:2222', false],
    ['[10.0.0.*]:2222', '[10.0.0.7]:2222', true],
    ['*', '[127.0.0.1]:4000', true],
  ];
  for (const [pattern, name, expected] of rows) {
    test(`${pattern} ~ ${name} = ${expected}`, () => assert.equal(hostMatches(pattern, name), expected));
  }
  test('wildcards', () => {
    assert.equal(wildcardMatch('a*b*c', 'aXXbYYc'), true);
    assert.equal(wildcardMatch('a*b*c', 'aXXbYY'), false);
    assert.equal(wildcardMatch('**', ''), true);
    assert.equal(wildcardMatch('?', ''), false);
  });
  test('hostString uses [host]:port except on port 22', () => {
    assert.equal(hostString('Web1', 22), 'web1');
    assert.equal(hostString('10.0.0.1', 2222), '[10.0.0.1]:2222');
  });
});

describe('lookup', () => {
  const line = (hosts: string, k: { type: string; b64: string }, marker = '') =>
    `${marker ? marker + ' ' : ''}${hosts} ${k.type} ${k.b64} comment`;
  const rows: Array<{ name: string; text: string; host: string; port: number; key: Buffer; status: string }> = [
    { name: 'exact entry', text: line('[127.0.0.1]:2200', A), host: '127.0.0.1', port: 2200, key: A.blob, status: 'ok' },
    { name: 'empty file', text: '', host: '127.0.0.1', port: 2200, key: A.blob, status: 'unknown' },
    { name: 'other port only', text: line('[127.0.0.1]:2201', A), host: '127.0.0.1', port: 2200, key: A.blob, status: 'unknown' },
    { name: 'port 22 plain host', text: line('web1', A), host: 'web1', port: 22, key: A.blob, status: 'ok' },
    { name: 'changed key', text: line('web1', A), host: 'web1', port: 22, key: B.blob, status: 'mismatch' },
    { name: 'other type only', text: line('web1', E), host: 'web1', port: 22, key: A.blob, status: 'unknown' },
    {
      name: 'comments, blanks, garbage skipped',
      text: `# comment\n\n   \nnot a valid line\nweb1 ssh-ed25519 !!!\n  ${line('web1', A)}\n`,
      host: 'web1',
      port: 22,
      key: A.blob,
      status: 'ok',
    },
    { name: 'comma list', text: line('web0,web1,10.0.0.1', A), host: '10.0.0.1', port: 22, key: A.blob, status: 'ok' },
    { name: 'wildcard', text: line('*.example.com', A), host: 'web1.example.com', port: 22, key: A.blob, status: 'ok' },
    { name: 'negated', text: line('*.example.com,!web1.example.com', A), host: 'web1.example.com', port: 22, key: A.blob, status: 'unknown' },
    { name: 'revoked wins over a plain entry', text: `${line('web1', A)}\n${line('*', A, '@revoked')}`, host: 'web1', port: 22, key: A.blob, status: 'revoked' },
    { name: 'revoked other key does not matter', text: `${line('web1', A)}\n${line('*', B, '@revoked')}`, host: 'web1', port: 22, key: A.blob, status: 'ok' },
    { name: 'cert-authority ignored', text: line('*', A, '@cert-authority'), host: 'web1', port: 22, key: A.blob, status: 'unknown' },
    { name: 'second key of same type accepted', text: `${line('web1', A)}\n${line('web1', B)}`, host: 'web1', port: 22, key: B.blob, status: 'ok' },
    { name: 'type mismatch inside line is corrupt', text: `web1 ssh-rsa ${A.b64}`, host: 'web1', port: 22, key: A.blob, status: 'unknown' },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const res = lookup(r.text, r.host, r.port, r.key);
      assert.equal(res.status, r.status);
      assert.equal(res.fingerprint, fingerprint(r.key));
    });
  }
  test('mismatch lists the known fingerprints', () => {
    const res = lookup(line('web1', A), 'web1', 22, B.blob);
    assert.deepEqual(res.knownFingerprints, [fingerprint(A.blob)]);
    assert.deepEqual(res.knownTypes, ['ssh-ed25519']);
  });
  test('knownTypes lists types for the host only', () => {
    const text = `${line('web1', E)}\n${line('web1', A)}\n${line('web2', B)}`;
    assert.deepEqual(knownTypes(text, 'web1', 22), ['ecdsa-sha2-nistp256', 'ssh-ed25519']);
  });
});

describe('hashed entries', () => {
  test('an entry hashed by ssh-keygen -H matches', () => {
    const file = join(dir, 'known_hosts_h');
    writeFileSync(file, `[127.0.0.1]:2222 ${A.type} ${A.b64}\nweb1 ${B.type} ${B.b64}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'ignore' });
    const text = readFileSync(file, 'utf8');
    assert.ok(text.split('\n')[0].startsWith('|1|'), 'ssh-keygen hashed the file');
    assert.ok(!text.includes('127.0.0.1'));
    assert.equal(lookup(text, '127.0.0.1', 2222, A.blob).status, 'ok');
    assert.equal(lookup(text, '127.0.0.1', 2222, B.blob).status, 'mismatch');
    assert.equal(lookup(text, '127.0.0.1', 2223, A.blob).status, 'unknown');
    assert.equal(lookup(text, 'WEB1', 22, B.blob).status, 'ok');
  });
  test('our hashed entryLine is found by ssh-keygen -F', () => {
    const file = join(dir, 'known_hosts_ours');
    writeFileSync(file, entryLine('127.0.0.1', 2345, A.type, A.blob, { hash: true }) + '\n');
    const out = execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2345', '-f', file], { encoding: 'utf8' });
    assert.match(out, /Host \[127\.0\.0\.1\]:2345 found/);
    assert.equal(lookup(readFileSync(file, 'utf8'), '127.0.0.1', 2345, A.blob).status, 'ok');
  });
  test('plain entryLine round-trips and ssh-keygen -F finds it', () => {
    const l = entryLine('127.0.0.1', 2345, A.type, A.blob);
    assert.equal(l, `[127.0.0.1]:2345 ${A.type} ${A.b64}`);
    assert.equal(parseKnownHosts(l).length, 1);
    const file = join(dir, 'known_hosts_plain');
    writeFileSync(file, l + '\n');
    const out = execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2345', '-f', file], { encoding: 'utf8' });
    assert.match(out, /found/);
    assert.equal(entryLine('web1', 22, A.type, A.blob).split(' ')[0], 'web1');
  });
});
