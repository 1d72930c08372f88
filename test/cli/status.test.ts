// `chain status` as a user and a monitoring check run it: the real bin/chain (built by `npm test`)
// against a config and hand-written status files. --ring reads the other hosts' copies over real sshd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import { chain } from '../support/chain.js';
import { freePort, startHosts, type Ring } from '../support/sshd.js';
import { newLink, type DaemonStatus, type LinkStatus } from '../../src/engine/status.js';

let dir: string;
let cfg: string;
const state = (h: string) => join(dir, h, 'state');
const root = (h: string) => join(dir, h, 'root');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chain-status-cli-'));
  // nothing listens on these ports: --ring finds the other hosts unreachable
  const hosts = [];
  for (const name of ['alpha', 'beta', 'gamma']) {
    mkdirSync(root(name), { recursive: true });
    hosts.push({ name, address: '127.0.0.1', port: await freePort(), root: root(name), state: state(name) });
  }
  cfg = join(dir, 'chain.yaml');
  writeFileSync(cfg, stringify({ root: root('alpha'), hosts, ssh: { knownHosts: join(dir, 'known_hosts'), connectTimeout: '3s' } }));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function link(target: string, over: Partial<LinkStatus> = {}): LinkStatus {
  return { ...newLink(target, 'successor'), state: 'up', lastSuccessAt: Date.now() - 4000, filesPushed: 10, ...over };
}

function writeStatus(where: string, over: Partial<DaemonStatus> = {}): DaemonStatus {
  const now = Date.now();
  const s: DaemonStatus = {
    host: 'alpha', pid: process.pid, command: 'watch', config: cfg, root: root('alpha'), ring: ['alpha', 'beta', 'gamma'],
    startedAt: now - 3_600_000, updatedAt: now, links: [link('beta')], ...over,
  };
  mkdirSync(where, { recursive: true });
  writeFileSync(join(where, 'status.json'), JSON.stringify(s));
  return s;
}

const status = (...args: string[]) => chain(['status', '--config', cfg, '--host', 'alpha', ...args]);

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

test('never started: exit 1, saying where the status would be; --json says running: false', async () => {
  rmSync(state('alpha'), { recursive: true, force: true });
  const r = await status();
  assert.equal(r.exitCode, 1, r.stderr);
  assert.match(r.stdout, /no status at .*alpha\/state\/status\.json/);
  const j = await status('--json');
  assert.equal(j.exitCode, 1);
  assert.deepEqual(JSON.parse(j.stdout), { host: 'alpha', running: false, daemon: 'absent', statusFile: join(state('alpha'), 'status.json'), exitCode: 1 });
});

test('running, every link up: exit 0 and a table of the ring and its links', async () => {
  writeStatus(state('alpha'), {
    links: [link('beta', { pending: 3, oldestPendingAt: Date.now() - 125_000, lastError: 'connect ETIMEDOUT', lastErrorAt: Date.now() - 7_200_000 })],
  });
  const r = await status();
  assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  const lines = r.stdout.split('\n');
  assert.equal(lines[0], 'ring: alpha → beta → gamma → alpha');
  assert.match(lines[1]!, new RegExp(`^alpha: watch running \\(pid ${process.pid}, for 1h0m\\), updated \\ds ago`));
  assert.match(r.stdout, /^LINK\s+ROLE\s+STATE\s+PENDING\s+LAG\s+LAST SUCCESS\s+LAST ERROR$/m);
  assert.match(r.stdout, /^alpha → beta\s+successor\s+up\s+3\s+2m\ds\s+\ds ago\s+connect ETIMEDOUT \(2h0m ago\)$/m);
  assert.match(r.stdout, /all links up/);
});

test('--json: the status plus running and lagSeconds per link', async () => {
  const written = writeStatus(state('alpha'), { links: [link('beta', { pending: 1, oldestPendingAt: Date.now() - 10_000 })] });
  const r = await status('--json');
  assert.equal(r.exitCode, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.running, true);
  assert.equal(j.daemon, 'running');
  assert.equal(j.exitCode, 0);
  for (const k of ['host', 'pid', 'command', 'config', 'root', 'ring', 'startedAt', 'updatedAt'] as const) assert.deepEqual(j[k], written[k], k);
  assert.equal(j.links[0].target, 'beta');
  assert.equal(j.links[0].pending, 1);
  assert.ok(j.links[0].lagSeconds >= 10 && j.links[0].lagSeconds < 20, String(j.links[0].lagSeconds));
  assert.equal(j.links[0].problem, undefined);
});

test('a link down or bypassed: exit 3, and the text says which', async () => {
  const rows: [string, Partial<LinkStatus>, RegExp][] = [
    ['down', { state: 'down', downSince: Date.now() - 90_000, lastError: 'connect ECONNREFUSED', lastErrorAt: Date.now() }, /alpha → beta down for 1m3\ds/],
    ['bypassed', { state: 'bypassed', pending: 40, oldestPendingAt: Date.now() - 20_000 }, /alpha → beta bypassed/],
  ];
  for (const [name, over, says] of rows) {
    writeStatus(state('alpha'), { links: [link('beta', over), { ...link('gamma'), role: 'bypass' }] });
    const r = await status();
    assert.equal(r.exitCode, 3, `${name}: ${r.stdout}`);
    assert.match(r.stdout, says, name);
    assert.match(r.stdout, /^alpha → gamma\s+bypass\s+up/m, name);
    const j = JSON.parse((await status('--json')).stdout);
    assert.equal(j.exitCode, 3);
    assert.equal(j.links[0].state, name);
    assert.ok(j.links[0].problem);
  }
});

test('stuck: up, but the oldest pending change is older than --max-lag (default 5m): exit 3', async () => {
  writeStatus(state('alpha'), { links: [link('beta', { pending: 7, oldestPendingAt: Date.now() - 600_000 })] });
  const r = await status();
  assert.equal(r.exitCode, 3, r.stdout);
  assert.match(r.stdout, /alpha → beta stuck: 7 pending, the oldest 10m\d*s? old/);
  assert.equal((await status('--max-lag', '1h')).exitCode, 0);
  const bad = await status('--max-lag', 'soon');
  assert.equal(bad.exitCode, 2);
  assert.match(bad.stderr, /bad duration "soon"/);
});

test('not running: a dead pid, a status silent for 30 s, a clean stop: exit 1, links still shown', async () => {
  const now = Date.now();
  const rows: [string, Partial<DaemonStatus>, RegExp][] = [
    ['gone', { pid: deadPid() }, /not running: watch, pid \d+ is gone/],
    ['stale', { updatedAt: now - 45_000 }, /not running: .*has not updated its status for \d+s/],
    ['stopped', { updatedAt: now - 120_000, stoppedAt: now - 120_000 }, /not running: watch, pid \d+ stopped 2m(\ds)? ago/],
  ];
  for (const [daemon, over, says] of rows) {
    writeStatus(state('alpha'), over);
    const r = await status();
    assert.equal(r.exitCode, 1, `${daemon}: ${r.stdout}`);
    assert.match(r.stdout, says, daemon);
    assert.match(r.stdout, /^alpha → beta\s+successor\s+up/m, daemon);
    const j = JSON.parse((await status('--json')).stdout);
    assert.equal(j.running, false);
    assert.equal(j.daemon, daemon);
  }
});

test('--ring with the other hosts unreachable: each shown as such, exit 3', async () => {
  writeStatus(state('alpha'));
  const r = await status('--ring');
  assert.equal(r.exitCode, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /^alpha\s+watch running/m);
  assert.match(r.stdout, /^beta\s+unreachable: /m);
  assert.match(r.stdout, /^gamma\s+unreachable: /m);
  const j = JSON.parse((await status('--ring', '--json')).stdout);
  assert.deepEqual(j.ring, ['alpha', 'beta', 'gamma']);
  assert.deepEqual(j.hosts.map((h: { host: string; reachable: boolean }) => [h.host, h.reachable]), [['alpha', true], ['beta', false], ['gamma', false]]);
  assert.equal(j.exitCode, 3);
});

test('--ring over real sshd: every host\'s mirrored status, all links of the ring, exit 0 only when all is well', { timeout: 90_000 }, async (t) => {
  let ring: Ring;
  try {
    ring = await startHosts(3);
  } catch (err) {
    return t.skip(`no sshd to test with: ${(err as Error).message}`);
  }
  try {
    const file = ring.writeConfig({}, join(ring.dir, 'ring.yaml'));
    const [h1, h2, h3] = ring.hosts as [Ring['hosts'][0], Ring['hosts'][0], Ring['hosts'][0]];
    const names = ring.hosts.map((h) => h.name);
    const mirror = (h: typeof h1, next: string, over: Partial<DaemonStatus> = {}, l: Partial<LinkStatus> = {}) =>
      writeStatus(join(h.root, '.chain'), { host: h.name, root: h.root, ring: names, config: file, links: [link(next, l)], ...over });
    // host1 is this machine: its status comes from its state dir; the others' from <root>/.chain over SFTP
    writeStatus(h1.state, { host: h1.name, root: h1.root, ring: names, config: file, links: [link(h2.name)] });
    mirror(h2, h3.name, { pid: 999_999_999 }); // another machine's pid is never checked here
    mirror(h3, h1.name);
    const run = (...a: string[]) => chain(['status', '--config', file, '--host', h1.name, '--ring', ...a]);

    let r = await run();
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    for (const [from, to] of [[h1, h2], [h2, h3], [h3, h1]]) assert.match(r.stdout, new RegExp(`^${from!.name} → ${to!.name}\\s+successor\\s+up`, 'm'));

    mirror(h3, h1.name, {}, { state: 'down', downSince: Date.now() - 30_000, pending: 5, oldestPendingAt: Date.now() - 30_000 });
    r = await run();
    assert.equal(r.exitCode, 3, r.stdout);
    assert.match(r.stdout, new RegExp(`attention: ${h3.name} → ${h1.name} down`));
    const j = JSON.parse((await run('--json')).stdout);
    assert.equal(j.hosts[2].status.links[0].state, 'down');
    assert.equal(j.hosts[2].status.running, true);

    mirror(h3, h1.name, { updatedAt: Date.now() - 120_000 });
    r = await run();
    assert.equal(r.exitCode, 3, r.stdout);
    assert.match(r.stdout, new RegExp(`^${h3.name}\\s+not running: .*has not updated its status for 2m`, 'm'));

    writeFileSync(join(h2.root, '.chain', 'status.json'), '{"host": "host2", "pi');
    r = await run();
    assert.equal(r.exitCode, 3, r.stdout);
    assert.match(r.stdout, new RegExp(`^${h2.name}\\s+the status file ${h2.name}:.*is unreadable`, 'm'));
    assert.equal(JSON.parse((await run('--json')).stdout).hosts[1].reachable, true);

    rmSync(join(h2.root, '.chain', 'status.json'));
    mirror(h3, h1.name);
    r = await run();
    assert.equal(r.exitCode, 3, r.stdout);
    assert.match(r.stdout, new RegExp(`^${h2.name}\\s+no status`, 'm'));
  } finally {
    await ring.stop();
  }
});
