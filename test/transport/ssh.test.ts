// connect() and probeHostKey() against real OpenSSH sshd on loopback (test/support/sshd.ts).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { startHosts, freePort, generateKey, type Ring, type TestHost } from '../support/sshd.js';
import { connect, probeHostKey, SshError, type SshTarget } from '../../src/transport/ssh.js';
import { fingerprint } from '../../src/transport/known-hosts.js';
import { classify } from '../../src/core/classify.js';

let ring: Ring;
let h: TestHost;

function target(over: Partial<SshTarget> = {}): SshTarget {
  return {
    name: h.name,
    address: h.address,
    port: h.port,
    user: ring.user,
    identity: ring.clientKey,
    knownHosts: ring.knownHosts,
    connectTimeoutMs: 5000,
    ...over,
  };
}

async function refused(t: SshTarget): Promise<SshError> {
  try {
    const s = await connect(t);
    await s.close();
  } catch (err) {
    assert.ok(err instanceof SshError, `expected SshError, got ${err}`);
    return err;
  }
  assert.fail('connect succeeded but should have been refused');
}

describe('ssh connect', { timeout: 120_000 }, () => {
  before(async () => {
    ring = await startHosts(2);
    h = ring.hosts[0];
  });
  after(async () => {
    await ring?.stop();
  });

  test('connects, opens SFTP, closes, and reports the end', async () => {
    const s = await connect(target());
    const sftp = await s.sftp();
    assert.equal(await s.sftp(), sftp, 'one SFTP channel per session');
    const ended = new Promise<unknown>((r) => s.once('end', r));
    await s.close();
    assert.equal(await ended, undefined);
    assert.equal(s.closed, true);
    await assert.rejects(s.sftp(), SshError);
  });

  test('an unknown host key is refused with its fingerprint and the chain trust hint', async () => {
    const kh = join(ring.dir, 'kh-empty');
    writeFileSync(kh, `# nothing yet\n[127.0.0.1]:${ring.hosts[1].port} ${ring.hosts[1].hostKeyPub}\n`);
    const err = await refused(target({ knownHosts: kh }));
    assert.equal(err.kind, 'host-key-unknown');
    assert.equal(err.retryable, false);
    assert.equal(classify(err), 'die');
    assert.ok(err.message.includes(fingerprint(h.hostKeyBlob)), err.message);
    assert.ok(err.message.includes(`127.0.0.1:${h.port}`), err.message);
    assert.ok(err.message.includes(`run "chain trust ${h.name}" to review and record it`), err.message);
  });

  test('a missing known_hosts file means unknown, not a crash', async () => {
    const err = await refused(target({ knownHosts: join(ring.dir, 'does-not-exist') }));
    assert.equal(err.kind, 'host-key-unknown');
  });

  test('another key recorded for the host is a mismatch, refused loudly', async () => {
    const kh = join(ring.dir, 'kh-other');
    // host2's key recorded under host1's address: exactly what a man in the middle looks like
    writeFileSync(kh, `[127.0.0.1]:${h.port} ${ring.hosts[1].hostKeyPub}\n`);
    const err = await refused(target({ knownHosts: kh }));
    assert.equal(err.kind, 'host-key-mismatch');
    assert.equal(err.retryable, false);
    assert.match(err.message, /attack/);
    assert.ok(err.message.includes('ssh-keygen -R'), err.message);
    assert.ok(err.message.includes(fingerprint(h.hostKeyBlob)));
    assert.ok(err.message.includes(fingerprint(ring.hosts[1].hostKeyBlob)));
  });

  test('a revoked key is refused', async () => {
    const kh = join(ring.dir, 'kh-revoked');
    writeFileSync(kh, `${readFileSync(ring.knownHosts, 'utf8')}@revoked * ${h.hostKeyPub}\n`);
    const err = await refused(target({ knownHosts: kh }));
    assert.equal(err.kind, 'host-key-revoked');
  });

  test('a hashed known_hosts (ssh-keygen -H) is accepted', async () => {
    const kh = join(ring.dir, 'kh-hashed');
    writeFileSync(kh, readFileSync(ring.knownHosts));
    execFileSync('ssh-keygen', ['-q', '-H', '-f', kh], { stdio: 'ignore' });
    assert.ok(!readFileSync(kh, 'utf8').includes('127.0.0.1'));
    const s = await connect(target({ knownHosts: kh }));
    await s.close();
  });

  test('a key the server does not accept is an auth failure', async () => {
    const other = await generateKey(join(ring.dir, 'stranger'));
    const err = await refused(target({ identity: other.path }));
    assert.equal(err.kind, 'auth');
    assert.equal(err.retryable, false);
    assert.ok(err.message.includes(other.path), err.message);
    assert.ok(err.message.includes('authorized_keys'), err.message);
  });

  test('an encrypted identity without an agent is a clear identity error', async () => {
    const enc = await generateKey(join(ring.dir, 'encrypted'), 'secret passphrase');
    const saved = process.env.SSH_AUTH_SOCK;
    delete process.env.SSH_AUTH_SOCK;
    try {
      const err = await refused(target({ identity: enc.path }));
      assert.equal(err.kind, 'identity');
      assert.equal(err.retryable, false);
      assert.match(err.message, /passphrase/);
      assert.ok(err.message.includes('ssh-add'), err.message);
    } finally {
      if (saved !== undefined) process.env.SSH_AUTH_SOCK = saved;
    }
  });

  test('a missing identity file is an identity error', async () => {
    const err = await refused(target({ identity: join(ring.dir, 'nope') }));
    assert.equal(err.kind, 'identity');
  });

  test('nothing listening is "refused", retryable', async () => {
    const err = await refused(target({ port: await freePort() }));
    assert.equal(err.kind, 'refused');
    assert.equal(err.retryable, true);
    assert.equal(classify(err), 'again');
  });

  test('an unresolvable name is "dns", retryable', async () => {
    const err = await refused(target({ address: 'no-such-host.invalid' }));
    assert.equal(err.kind, 'dns');
    assert.equal(err.retryable, true);
  });

  test('a stopped sshd times out within connectTimeout', async () => {
    const host = ring.hosts[1];
    host.signal('SIGSTOP');
    try {
      const t0 = Date.now();
      const err = await refused(target({ name: host.name, port: host.port, connectTimeoutMs: 1500 }));
      const took = Date.now() - t0;
      assert.equal(err.kind, 'timeout');
      assert.equal(err.retryable, true);
      assert.ok(took >= 1400 && took < 4000, `took ${took} ms`);
      assert.ok(err.message.includes(host.name));
    } finally {
      host.signal('SIGCONT');
    }
    // and it serves again once continued
    const s = await connect(target({ name: host.name, port: host.port }));
    await s.close();
  });

  test('a session whose server dies ends with a retryable error', async () => {
    const host = ring.hosts[1];
    const s = await connect(target({ name: host.name, port: host.port }));
    await s.sftp();
    const ended = new Promise<SshError | undefined>((r) => s.once('end', r));
    await host.kill();
    const err = await ended;
    assert.equal(s.closed, true);
    if (err) assert.equal(err.retryable, true);
    await host.restart();
    const again = await connect(target({ name: host.name, port: host.port }));
    await again.close();
  });

  test('a frozen server (every sshd process stopped) ends the session by keepalive, failing SFTP calls', async () => {
    const host = ring.hosts[1];
    const s = await connect(target({ name: host.name, port: host.port, keepaliveMs: 300 }));
    const sftp = await s.sftp();
    const ended = new Promise<SshError | undefined>((r) => s.once('end', r));
    host.signal('SIGSTOP', { all: true });
    try {
      const t0 = Date.now();
      const call = new Promise<Error | undefined>((r) => sftp.lstat('/', (err) => r(err)));
      const err = await ended;
      assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
      assert.equal(err?.kind, 'timeout');
      assert.equal(err?.retryable, true);
      assert.ok(await call, 'the pending request failed');
    } finally {
      host.signal('SIGCONT', { all: true });
    }
  });

  test('probeHostKey returns the host key without logging in', async () => {
    const k = await probeHostKey(h.address, h.port, 5000);
    assert.equal(k.keyType, 'ssh-ed25519');
    assert.ok(k.blob.equals(h.hostKeyBlob));
    assert.equal(k.fingerprint, fingerprint(h.hostKeyBlob));
    const log = readFileSync(h.logFile, 'utf8');
    assert.ok(!log.includes('chain-probe') || !/Accepted .* for chain-probe/.test(log));
  });

  test('probeHostKey on a closed port is "refused"', async () => {
    await assert.rejects(probeHostKey('127.0.0.1', await freePort(), 2000), (e: unknown) => e instanceof SshError && e.kind === 'refused');
  });
});
