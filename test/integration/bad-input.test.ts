// Issue 5: the bad-input catalogue. Each case hands the real binary one kind of bad input — a broken
// config, a host that cannot be reached or logged in to, an odd or hostile name, a file that changes
// under it, a full, read-only or booby-trapped target — and asserts three things: the documented
// exit code (DESIGN.md: 0 done, 1 failed, 2 usage/config, 3 partial, 75 busy), a message that says
// what went wrong, where (file:line, host, path) and what to do, and that nothing was lost or written
// outside a root. One sshd ring is shared; each case works in its own subdirectory of every host's
// root and state dir, so no case sees another's files, queues or snapshots.
//
// Runs as root (as CI does): tmpfs mounts, chattr and capability-dropping setpriv stand in for
// "a small disk", "a root nobody may write" and "a file this user may not read" (root bypasses
// file modes, so chain runs without CAP_DAC_OVERRIDE for the unreadable-file cases).
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { startHosts, generateKey, freePort, type Ring, type TestHost } from '../support/sshd.js';
import { chain, spawnChain, type Daemon, type RunResult } from '../support/chain.js';
import { diffSnapshots, ringDiff, snapshot, until } from '../support/tree.js';

const IS_ROOT = process.getuid?.() === 0;
/** chain as root but without the capabilities that let root read and write any file */
const NO_DAC = ['/usr/bin/setpriv', '--bounding-set=-dac_override,-dac_read_search'];
const GiB = 1024 ** 3;

let ring: Ring;
/** a directory beside the roots: nothing may ever appear in it or change it */
let outside: string;
let outsideBefore: ReturnType<typeof snapshot>;
const daemons: Daemon[] = [];
const mounts: string[] = [];
const immutable: string[] = [];

before(async () => {
  ring = await startHosts(3);
  outside = join(ring.dir, 'outside');
  mkdirSync(join(outside, 'sub'), { recursive: true });
  writeFileSync(join(outside, 'sentinel.txt'), 'must never change\n');
  writeFileSync(join(outside, 'secret'), 'outside every root\n');
  outsideBefore = snapshot(outside);
});

after(async () => {
  for (const d of daemons) await d.stop('SIGKILL').catch(() => {});
  for (const h of ring?.hosts ?? []) h.signal('SIGCONT', { all: true });
  for (const p of immutable) spawnQuiet('chattr', ['-i', p]);
  for (const m of mounts.reverse()) spawnQuiet('umount', ['-l', m]);
  await ring?.stop();
});

// every case: the directory outside all roots is exactly as it was, and nothing beside the roots
// appeared (a write through a symlink or a "../" would land there)
afterEach(() => {
  if (!ring) return;
  assert.deepEqual(diffSnapshots(outsideBefore, snapshot(outside), ['before', 'after']), [], 'something changed outside every root');
  for (const h of ring.hosts) {
    const beside = readdirSync(h.dir).filter((n) => !['root', 'state', 'sshd.log', 'sshd.pid', 'sshd_config', 'sftp-server.sh', 'receive.sh'].includes(n) && !n.startsWith('ssh_host_'));
    assert.deepEqual(beside, [], `${h.name}: written beside its root`);
  }
});

function spawnQuiet(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    /* best effort in cleanup */
  }
}

// ---- one isolated ring view per case --------------------------------------------------------------

interface Case {
  name: string;
  file: string;
  text: string;
  roots: string[];
  states: string[];
}

interface CaseOptions {
  /** per-host keys to add or override */
  host?: (h: TestHost, i: number) => Record<string, unknown>;
  ssh?: Record<string, unknown>;
  top?: Record<string, unknown>;
  /** leave these hosts' roots uncreated */
  noRoot?: number[];
}

/** a config whose hosts are the ring's sshd, each with root <host root>/<name> and state <host state>/<name> */
function ringCase(name: string, o: CaseOptions = {}): Case {
  const roots = ring.hosts.map((h) => join(h.root, name));
  const states = ring.hosts.map((h) => join(h.state, name));
  roots.forEach((r, i) => o.noRoot?.includes(i) || mkdirSync(r, { recursive: true }));
  const doc = {
    root: roots[0],
    interval: '200ms',
    state: states[0],
    hosts: ring.hosts.map((h, i) => ({ name: h.name, address: h.address, port: h.port, root: roots[i], state: states[i], ...o.host?.(h, i) })),
    ...o.top,
    ssh: { user: ring.user, identity: ring.clientKey, knownHosts: ring.knownHosts, connectTimeout: '5s', ...o.ssh },
  };
  const file = join(ring.dir, `${name}.yaml`);
  const text = stringify(doc);
  writeFileSync(file, text);
  return { name, file, text, roots, states };
}

/** 1-based number of the first line of text matching re */
function lineOf(text: string, re: RegExp): number {
  const i = text.split('\n').findIndex((l) => re.test(l));
  assert.ok(i >= 0, `no line matches ${re}`);
  return i + 1;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const out = (r: RunResult) => r.stdout + r.stderr;

function expectRun(r: RunResult, code: number, want: RegExp[]): void {
  assert.equal(r.exitCode, code, `exit ${r.exitCode}, expected ${code}:\n${out(r)}`);
  for (const re of want) assert.match(out(r), re);
  assert.doesNotMatch(out(r), /\n\s+at .*\(.*:\d+:\d+\)|TypeError|ReferenceError|undefined|\[object Object\]/, `a crash or a raw value leaked into the message:\n${out(r)}`);
}

/** names in dir, raw bytes included (a name that is not UTF-8 must be seen as it is) */
const rawNames = (dir: string): Buffer[] => (existsSync(dir) ? readdirSync(dir, { encoding: 'buffer' }) : []);
/** no temp file of an interrupted write left anywhere under root (.chain/tmp included) */
function assertNoTemps(root: string): void {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('.chain-tmp-')) found.push(join(d, e.name));
      else if (e.isDirectory()) walk(join(d, e.name));
    }
  };
  if (existsSync(root)) walk(root);
  assert.deepEqual(found, [], 'a partial or temp file was left behind');
}
const stateFiles = (c: Case) => c.states.flatMap((s) => (existsSync(s) ? readdirSync(s) : []));

// ---- 1. config and command line: refused before anything runs (exit 2) ---------------------------

interface ConfigRow {
  name: string;
  /** change the good config text; null = leave it */
  edit?: (text: string) => string;
  args?: (file: string) => string[];
  env?: Record<string, string>;
  code?: number;
  /** regexes the output must match; file: the config path as given, text: the edited config */
  want: (file: string, text: string) => RegExp[];
}

const replaceLine = (re: RegExp, by: (line: string) => string) => (text: string) => text.split('\n').map((l) => (re.test(l) ? by(l) : l)).join('\n');
const replaceFirst = (re: RegExp, by: (line: string) => string) => (text: string) => {
  let done = false;
  return text.split('\n').map((l) => (!done && re.test(l) ? ((done = true), by(l)) : l)).join('\n');
};
const at = (file: string, line: number) => new RegExp(`${esc(file)}:${line}:\\d+: `);
const FIX = /fix (it|them), then run `chain check`/;

const configRows: ConfigRow[] = [
  {
    name: 'malformed YAML: a mis-indented line is reported at its line',
    edit: replaceLine(/^  identity: /, (l) => l.slice(1)),
    want: (f, t) => [new RegExp(`${esc(f)}:${lineOf(t, /^ identity: /)}:\\d+: YAML syntax error: `), FIX],
  },
  {
    name: 'malformed YAML: an unclosed flow map is reported at its line, not as a cascade',
    edit: replaceLine(/^  - name: host2$/, () => '  - { name: host2, address: 127.0.0.1'),
    want: (f, t) => [new RegExp(`^chain: ${esc(f)}:${lineOf(t, /\{ name: host2,/)}:\\d+: YAML syntax error: .*\\(\\d+ more after it may only follow from this one\\)\\n  fix it`, 'm')],
  },
  {
    name: 'malformed YAML: tab indentation',
    edit: replaceLine(/^  user: /, (l) => '\t' + l.trimStart()),
    want: (f, t) => [new RegExp(`${esc(f)}:${lineOf(t, /^\tuser: /)}:1: YAML syntax error: Tabs are not allowed as indentation`)],
  },
  {
    name: 'unknown key at the top level: did you mean',
    edit: replaceLine(/^interval:/, (l) => l.replace('interval', 'intervall')),
    want: (f, t) => [new RegExp(`${esc(f)}:${lineOf(t, /^intervall:/)}:1: unknown key "intervall" \\(did you mean "interval"\\?\\)`), FIX],
  },
  {
    name: 'unknown key on a host entry: did you mean, and which host',
    edit: replaceFirst(/^    port: \d+$/, (l) => l.replace('port', 'prot')),
    want: (f, t) => [new RegExp(`${esc(f)}:${lineOf(t, /^    prot: /)}:5: unknown key "prot" in hosts\\[0\\] \\(did you mean "port"\\?\\)`)],
  },
  {
    name: 'unknown key under ssh: a synonym from ssh_config',
    edit: replaceLine(/^  identity: /, (l) => l.replace('identity', 'IdentityFile')),
    want: (f, t) => [new RegExp(`${esc(f)}:${lineOf(t, /IdentityFile:/)}:3: unknown key "IdentityFile" in ssh \\(did you mean "identity"\\?\\)`)],
  },
  {
    name: 'a per-host key at the top level says where it belongs',
    edit: (t) => t + 'port: 2222\n',
    want: (f, t) => [new RegExp(`${esc(f)}:${lineOf(t, /^port: 2222/)}:1: unknown key "port" \\("port" is set on a host entry under hosts:\\)`)],
  },
  {
    name: 'bad duration',
    edit: replaceLine(/^interval:/, () => 'interval: 5 sec'),
    want: (f, t) => [new RegExp(`${esc(f)}:${lineOf(t, /^interval: 5 sec/)}:11: interval: bad duration "5 sec": write 500ms, 1s, 1\\.5s, 2m`)],
  },
  {
    name: 'bad duration: zero where false is meant',
    edit: (t) => t + 'bypass: 0\n',
    want: (f, t) => [new RegExp(`${esc(f)}:${lineOf(t, /^bypass: 0/)}:9: bypass: must be longer than 0; write false for never routing around a host`)],
  },
  {
    name: 'duplicate host name (names ignore case)',
    edit: replaceLine(/^  - name: host3$/, () => '  - name: HOST1'),
    want: (f, t) => [new RegExp(`${esc(f)}:${lineOf(t, /name: HOST1/)}:\\d+: hosts\\[2\\]\\.name: duplicate host name "HOST1": hosts\\[0\\] \\(line ${lineOf(t, /name: host1$/)}\\) has it too; names must be unique`)],
  },
  {
    name: 'two hosts in the same place',
    edit: (t) => {
      const lines = t.split('\n');
      const h2 = lineOf(t, /name: host2$/);
      const h1root = lines[lineOf(t, /name: host1$/) + 2];
      // host2 gets host1's port and root: one directory, pushing to itself
      lines[h2 + 1] = lines[lineOf(t, /name: host1$/) + 1];
      lines[h2 + 2] = h1root;
      return lines.join('\n');
    },
    want: (f, t) => [new RegExp(`${esc(f)}:${lineOf(t, /name: host2$/)}:\\d+: hosts\\[1\\]: host2 and host1 \\(line ${lineOf(t, /name: host1$/)}\\) are the same place .*give one of them its own root or port`)],
  },
  {
    name: 'ring of one',
    edit: (t) => {
      const lines = t.split('\n');
      const from = lineOf(t, /name: host2$/) - 1;
      const to = lineOf(t, /^ssh:/) - 1;
      return [...lines.slice(0, from), ...lines.slice(to)].join('\n');
    },
    want: (f, t) => [new RegExp(`${esc(f)}:${lineOf(t, /name: host1$/)}:3: hosts: a ring needs at least 2 hosts \\(the last one pushes to the first\\)`)],
  },
  {
    name: '--host not in the ring',
    args: (f) => ['--config', f, '--host', 'nosuch', 'push'],
    want: (f, t) => [
      new RegExp(`"nosuch" \\(from --host\\) is not a host of the ring in ${esc(f)}:${lineOf(t, /name: host1$/)}; its hosts are: host1, host2, host3`),
      /pass --host NAME or set CHAIN_HOST/,
    ],
  },
  {
    name: 'CHAIN_HOST not in the ring (watch)',
    args: (f) => ['--config', f, 'watch'],
    env: { CHAIN_HOST: 'apollo' },
    want: () => [/"apollo" \(from CHAIN_HOST\) is not a host of the ring in .*; its hosts are: host1, host2, host3/],
  },
  {
    name: 'relative root',
    edit: replaceFirst(/^root: /, () => 'root: images'),
    want: (f) => [new RegExp(`${esc(f)}:1:7: root: must be an absolute path \\(starting with /\\), got "images"`)],
  },
  {
    name: 'root with ~ (a home that differs per host)',
    edit: replaceFirst(/^root: /, () => 'root: ~/images'),
    want: (f) => [new RegExp(`${esc(f)}:1:7: root: must be an absolute path, got "~/images": "~" is not expanded in root`)],
  },
  {
    name: 'relative root on one host entry',
    edit: (t) => {
      const lines = t.split('\n');
      lines[lineOf(t, /name: host3$/) + 2] = '    root: srv/images';
      return lines.join('\n');
    },
    want: (f, t) => [new RegExp(`${esc(f)}:${lineOf(t, /root: srv\/images/)}:11: hosts\\[2\\]\\.root: must be an absolute path \\(starting with /\\), got "srv/images"`)],
  },
  {
    name: 'port out of range',
    edit: replaceFirst(/^    port: \d+$/, () => '    port: 70000'),
    want: (f, t) => [new RegExp(`${esc(f)}:${lineOf(t, /port: 70000/)}:11: hosts\\[0\\]\\.port: expected a port number from 1 to 65535, got 70000`)],
  },
  {
    name: 'a YAML 1.1 boolean',
    edit: (t) => t + 'delete: yes\n',
    want: (f, t) => [new RegExp(`${esc(f)}:${lineOf(t, /^delete: yes/)}:9: delete: expected true or false, got "yes" \\(YAML 1\\.2 reads only true and false as booleans\\)`)],
  },
  {
    name: 'a misspelt value: did you mean',
    edit: (t) => t + 'conflicts: newest\n',
    want: (f, t) => [new RegExp(`${esc(f)}:${lineOf(t, /^conflicts:/)}:12: conflicts: expected newer or keep, got "newest" \\(did you mean "newer"\\?\\)`)],
  },
  {
    name: 'config file missing',
    args: (f) => ['--config', f + '.missing', 'check'],
    want: (f) => [new RegExp(`config file ${esc(f)}\\.missing \\(from --config\\) does not exist`), /run `chain init` to write a starter config there/],
  },
  {
    name: 'empty config file',
    edit: () => '',
    want: (f) => [new RegExp(`${esc(f)}: no settings in this file: run \`chain init\``)],
  },
  {
    name: 'a misspelt option runs nothing (repair --dry-runn must not repair)',
    args: (f) => ['--config', f, 'repair', '--dry-runn'],
    want: () => [/^chain: Unknown arguments: dry-runn/m, /run "chain --help" for usage/],
  },
  {
    name: 'an unknown command: did you mean',
    args: (f) => ['--config', f, 'pussh'],
    want: () => [/^chain: Did you mean push\?/m, /run "chain --help" for usage/],
  },
  {
    name: 'repair --link naming a host not in the ring',
    args: (f) => ['--config', f, 'repair', '--link', 'host1:nosuch', '--dry-run'],
    want: (f, t) => [new RegExp(`no host named "nosuch" in the ring in ${esc(f)}:${lineOf(t, /name: host1$/)}; its hosts are: host1, host2, host3`)],
  },
];

describe('bad config and command lines: exit 2, file:line:key, what to write, nothing touched', { concurrency: 4 }, () => {
  let good: Case;
  let rootsBefore: ReturnType<typeof snapshot>[];
  before(() => {
    good = ringCase('config');
    // roots that differ: any command that ran anyway (repair, push) would change something
    good.roots.forEach((r) => writeFileSync(join(r, 'common.txt'), 'same\n'));
    writeFileSync(join(good.roots[0], 'only-on-host1.txt'), 'a repair would copy this\n');
    rootsBefore = good.roots.map(snapshot);
  });
  after(() => {
    assert.deepEqual(good.roots.map(snapshot), rootsBefore, 'a refused command changed a root');
    assert.deepEqual(stateFiles(good), [], 'a refused command wrote into a state dir');
  });
  for (const row of configRows) {
    test(row.name, { timeout: 30_000 }, async () => {
      const file = join(ring.dir, `config-${configRows.indexOf(row)}.yaml`);
      const text = row.edit ? row.edit(good.text) : good.text;
      writeFileSync(file, text);
      const r = await chain(row.args ? row.args(file) : ['--config', file, '--host', 'host1', 'check'], { env: row.env });
      expectRun(r, row.code ?? 2, row.want(file, text));
      assert.equal(r.stdout, '', 'nothing on stdout: the command must not have run');
    });
  }
});

// ---- 2. hosts that cannot be used: `chain check` says which, why and what to do --------------------

describe('hosts that cannot be used: check names the host, the step and the fix', () => {
  let c: Case;
  let before1: ReturnType<typeof snapshot>[];
  before(() => {
    c = ringCase('hosts');
    c.roots.forEach((r, i) => writeFileSync(join(r, `kept-${i}.txt`), `host${i + 1}\n`));
    before1 = c.roots.map(snapshot);
  });
  // nothing in any root changes, whatever check found (its probe is removed, even on failure)
  afterEach(() => assert.deepEqual(c.roots.map(snapshot), before1, 'check changed a root'));

  const check = (file: string, opts: { wrap?: string[]; env?: Record<string, string> } = {}) => chain(['--config', file, 'check'], opts);
  const variant = (suffix: string, o: CaseOptions) => {
    const v = ringCase('hosts', o);
    const file = join(ring.dir, `hosts-${suffix}.yaml`);
    writeFileSync(file, v.text);
    return file;
  };

  test('root missing on a host: exit 1, which host, mkdir -p; chain never creates it', { timeout: 60_000 }, async () => {
    const file = variant('noroot', { host: (h, i) => (i === 1 ? { root: join(h.root, 'hosts-missing') } : {}) });
    const missing = join(ring.hosts[1].root, 'hosts-missing');
    const r = await check(file);
    expectRun(r, 1, [new RegExp(`^host2: root ${esc(missing)} does not exist; create it \\(mkdir -p ${esc(missing)}, owned by ${ring.user}\\) or fix "root"`, 'm'), /^host2 .* ok +FAIL +- +(?:ok|sftp|-)$/m]);
    assert.ok(!existsSync(missing), 'check created a missing root');
  });

  test('identity file missing: exit 1, the path and the key to fix', { timeout: 60_000 }, async () => {
    const key = join(ring.dir, 'no-such-key');
    const r = await check(variant('noid', { ssh: { identity: key } }));
    expectRun(r, 1, [new RegExp(`host1: the identity file ${esc(key)} does not exist; check ssh\\.identity`)]);
    // nothing was connected to: the table must not claim the host was reached
    assert.match(r.stdout, /^host1 +127\.0\.0\.1:\d+ +- +- +FAIL +- +- +- +-$/m);
  });

  test('identity file unreadable: exit 1, permission denied and what to do', { timeout: 60_000, skip: !IS_ROOT && 'needs root for setpriv' }, async () => {
    const key = join(ring.dir, 'unreadable_ed25519');
    writeFileSync(key, readFileSync(ring.clientKey));
    chmodSync(key, 0o000);
    const r = await check(variant('unreadable', { ssh: { identity: key } }), { wrap: NO_DAC });
    expectRun(r, 1, [new RegExp(`cannot read the identity ${esc(key)}: EACCES: permission denied.*; check ssh\\.identity: it must be a private key file readable by the user running chain`)]);
  });

  test('identity is not a private key: exit 1', { timeout: 60_000 }, async () => {
    const key = join(ring.dir, 'not-a-key');
    writeFileSync(key, 'ssh-ed25519 AAAA this is a public key line\n');
    const r = await check(variant('notkey', { ssh: { identity: key } }));
    expectRun(r, 1, [new RegExp(`${esc(key)} is not a private key chain can use`)]);
  });

  test('encrypted key without an agent: exit 1, ssh-add', { timeout: 60_000 }, async () => {
    const key = (await generateKey(join(ring.dir, 'encrypted_ed25519'), 'a passphrase')).path;
    const r = await check(variant('enc', { ssh: { identity: key } }), { env: { SSH_AUTH_SOCK: '' } });
    expectRun(r, 1, [new RegExp(`the identity ${esc(key)} is protected by a passphrase and no ssh agent is running; load it with "ssh-add ${esc(key)}"`)]);
  });

  test('connection refused: exit 3 (unreachable), which host and port', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const r = await check(variant('refused', { host: (h, i) => (i === 1 ? { port } : {}) }));
    expectRun(r, 3, [new RegExp(`host2: cannot connect to host2 \\(127\\.0\\.0\\.1:${port}\\): connection refused; is sshd running there, and is the port right\\?`)]);
    assert.doesNotMatch(r.stdout, /all hosts ok/);
  });

  test('connection timeout (sshd stopped): exit 3 within about connectTimeout', { timeout: 60_000 }, async () => {
    const file = variant('timeout', { ssh: { connectTimeout: '1s' } });
    const h2 = ring.hosts[1];
    h2.signal('SIGSTOP', { all: true });
    let r: RunResult;
    const t0 = Date.now();
    try {
      r = await check(file);
    } finally {
      h2.signal('SIGCONT', { all: true });
    }
    expectRun(r, 3, [new RegExp(`host2: host2 \\(127\\.0\\.0\\.1:${h2.port}\\) did not answer within 1s while connecting; the host may be down, sshd stopped`)]);
    assert.ok(Date.now() - t0 < 10_000, `check took ${Date.now() - t0}ms with connectTimeout 1s`);
  });

  test('login refused (a key the host does not know): exit 1, which user and key, authorized_keys', { timeout: 60_000 }, async () => {
    const key = (await generateKey(join(ring.dir, 'stranger_ed25519'))).path;
    const r = await check(variant('stranger', { ssh: { identity: key } }));
    expectRun(r, 1, [new RegExp(`host1 \\(127\\.0\\.0\\.1:\\d+\\) refused to let "${ring.user}" log in with ${esc(key)}; add the public key to ~${ring.user}/\\.ssh/authorized_keys on host1`)]);
  });

  test('unknown host key: exit 1, the fingerprint and chain trust', { timeout: 60_000 }, async () => {
    const kh = join(ring.dir, 'known_hosts.partial');
    writeFileSync(kh, readFileSync(ring.knownHosts, 'utf8').split('\n').filter((l) => !l.startsWith(`[127.0.0.1]:${ring.hosts[2].port} `)).join('\n'));
    const r = await check(variant('unknownkey', { ssh: { knownHosts: kh } }));
    expectRun(r, 1, [new RegExp(`host3: the host key of host3 \\(127\\.0\\.0\\.1:${ring.hosts[2].port}\\) is not in ${esc(kh)}; it presents ssh-ed25519 SHA256:[A-Za-z0-9+/]{43}\\. Refusing to connect; run "chain trust host3"`)]);
    assert.match(r.stdout, /^host1 .* ok +ok +(?:ok|sftp|-)$/m, 'the hosts it knows are still checked');
  });

  test('wrong host key: exit 1, a warning, ssh-keygen -R and chain trust', { timeout: 60_000 }, async () => {
    const kh = join(ring.dir, 'known_hosts.wrong');
    const h2 = ring.hosts[1];
    const h3key = ring.hosts[2].hostKeyPub;
    writeFileSync(kh, readFileSync(ring.knownHosts, 'utf8').replace(h2.hostKeyPub, h3key));
    const r = await check(variant('wrongkey', { ssh: { knownHosts: kh } }));
    expectRun(r, 1, [
      new RegExp(`WARNING: THE HOST KEY OF host2 \\(127\\.0\\.0\\.1:${h2.port}\\) HAS CHANGED\\. It now presents ssh-ed25519 SHA256:\\S+, but ${esc(kh)} records SHA256:`),
      new RegExp(`ssh-keygen -R '\\[127\\.0\\.0\\.1\\]:${h2.port}' -f ${esc(kh)}, then run "chain trust host2"`),
    ]);
  });

  test('root not writable (immutable): exit 1, which root, which user, what to fix', { timeout: 60_000, skip: !IS_ROOT && 'chattr needs root' }, async () => {
    const r3 = c.roots[2];
    execFileSync('chattr', ['+i', r3]);
    immutable.push(r3);
    let r: RunResult;
    try {
      r = await check(c.file);
    } finally {
      execFileSync('chattr', ['-i', r3]);
      immutable.splice(immutable.indexOf(r3), 1);
    }
    expectRun(r, 1, [new RegExp(`^host3: root ${esc(r3)} is not writable by ${ring.user}: .*permission denied; fix its owner or mode`, 'm'), /^host3 .* ok +FAIL +(?:ok|sftp|-)$/m]);
  });

  test('root not writable (read-only mount): exit 1', { timeout: 60_000, skip: !IS_ROOT && 'mount needs root' }, async () => {
    const ro = join(ring.hosts[1].root, 'hosts-ro');
    mkdirSync(ro, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro]);
    mounts.push(ro);
    try {
      const r = await check(variant('ro', { host: (h, i) => (i === 1 ? { root: ro } : {}) }));
      expectRun(r, 1, [new RegExp(`host2: root ${esc(ro)} is not writable by ${ring.user}: .*; fix its owner or mode \\(or remount it read-write\\)`)]);
    } finally {
      execFileSync('umount', [ro]);
      mounts.splice(mounts.indexOf(ro), 1);
    }
  });

  test('SFTP subsystem disabled: exit 1, which host, how to enable it', { timeout: 60_000 }, async () => {
    const bare = await startHosts(2, { sftp: false, prefix: 'bare' });
    try {
      const file = bare.writeConfig({}, join(bare.dir, 'chain.yaml'));
      const r = await check(file);
      expectRun(r, 1, [new RegExp(`bare1: bare1 \\(127\\.0\\.0\\.1:${bare.hosts[0].port}\\) offers no SFTP: .*; enable "Subsystem sftp internal-sftp" in its sshd_config`)]);
      assert.match(r.stdout, /^bare1 .* ok +ok +ok +FAIL +- +- +-$/m);
      assert.deepEqual(readdirSync(bare.hosts[0].root), [], 'nothing written without SFTP');
    } finally {
      await bare.stop();
    }
  });
});

// ---- 3. the daemon and the one-shot push against the same troubles -------------------------------

describe('watch and push refuse or route around what they cannot use', () => {
  test('watch: this host\'s root missing: exit 1, mkdir -p, the root is not created', { timeout: 60_000 }, async () => {
    const c = ringCase('selfroot', { noRoot: [0] });
    const r = await chain(['--config', c.file, '--host', 'host1', 'watch']);
    expectRun(r, 1, [new RegExp(`root ${esc(c.roots[0])} of host1 does not exist or is not a directory`), new RegExp(`create it \\(mkdir -p ${esc(c.roots[0])}\\) or fix "root" in ${esc(c.file)}`)]);
    assert.ok(!existsSync(c.roots[0]));
    assert.deepEqual(stateFiles(c), [], 'nothing queued for a root that does not exist');
  });

  test('push: this host\'s root missing: exit 1', { timeout: 60_000 }, async () => {
    const c = ringCase('selfroot-push', { noRoot: [0] });
    const r = await chain(['--config', c.file, '--host', 'host1', 'push']);
    expectRun(r, 1, [new RegExp(`root ${esc(c.roots[0])} of host1 does not exist or is not a directory`)]);
    assert.ok(!existsSync(c.roots[0]));
  });

  test('watch: the successor\'s root missing: retried with growing pauses, never created; converges once it exists', { timeout: 90_000 }, async () => {
    const c = ringCase('succroot', { noRoot: [1] });
    writeFileSync(join(c.roots[0], 'waiting.txt'), 'for host2\n');
    const d = spawnChain(['--config', c.file, '--host', 'host1', 'watch']);
    daemons.push(d);
    const broke = new RegExp(`link to host2 broke: host2: the root ${esc(c.roots[1])} does not exist; create it \\(chain never creates a root: an empty one could spread a wipe around the ring\\); retrying in ([\\d.]+)s`, 'g');
    await until(() => [...d.log().matchAll(broke)].length >= 4, 30_000, () => `4 retries in:\n${d.log()}`);
    const waits = [...d.log().matchAll(broke)].map((m) => Number(m[1]));
    // full-jitter backoff from 0.5 s doubling: the 4th pause is at least 1 s; a reset on every
    // reconnect would keep it under 0.5 s and reconnect in a tight loop
    assert.ok(waits[3] >= 1, `pauses ${waits.join(', ')}s do not grow`);
    assert.ok(!existsSync(c.roots[1]), 'chain created a missing root');
    mkdirSync(c.roots[1]);
    await until(() => existsSync(join(c.roots[1], 'waiting.txt')), 60_000, () => `waiting.txt on host2 once its root exists:\n${d.log()}`);
    assert.equal(readFileSync(join(c.roots[1], 'waiting.txt'), 'utf8'), 'for host2\n');
    assert.equal(await d.stop('SIGTERM'), 0);
    daemons.splice(daemons.indexOf(d), 1);
  });

  test('watch: identity missing: exit 1 at once, not an endless retry', { timeout: 60_000 }, async () => {
    const key = join(ring.dir, 'no-such-key');
    const c = ringCase('watch-noid', { ssh: { identity: key } });
    const r = await chain(['--config', c.file, '--host', 'host1', 'watch'], { timeout: 30_000 });
    expectRun(r, 1, [new RegExp(`^chain: the identity file ${esc(key)} does not exist; check ssh\\.identity`, 'm')]);
  });

  test('push: login refused: exit 1, nothing sent anywhere', { timeout: 60_000 }, async () => {
    const key = (await generateKey(join(ring.dir, 'push_stranger_ed25519'))).path;
    const c = ringCase('push-stranger', { ssh: { identity: key } });
    writeFileSync(join(c.roots[0], 'f.txt'), 'x\n');
    const r = await chain(['--config', c.file, '--host', 'host1', 'push']);
    expectRun(r, 1, [/host2 \(127\.0\.0\.1:\d+\) refused to let ".*" log in with .*push_stranger_ed25519; add the public key/]);
    assert.deepEqual([rawNames(c.roots[1]), rawNames(c.roots[2])], [[], []]);
    assert.ok(existsSync(join(c.roots[0], 'f.txt')));
  });

  test('push: successor refuses connections: exit 3, routed to the next host, kept queued for it', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const c = ringCase('push-refused', { host: (h, i) => (i === 1 ? { port } : {}) });
    writeFileSync(join(c.roots[0], 'around.txt'), 'via host3\n');
    const r = await chain(['--config', c.file, '--host', 'host1', 'push']);
    expectRun(r, 3, [
      new RegExp(`host2 unreachable: cannot connect to host2 \\(127\\.0\\.0\\.1:${port}\\): connection refused`),
      /host2 unreachable: pushing to host3 instead; \d+ change\(s\) stay queued for host2/,
    ]);
    assert.equal(readFileSync(join(c.roots[2], 'around.txt'), 'utf8'), 'via host3\n');
    assert.ok(readFileSync(join(c.states[0], 'queue', 'host2.jsonl'), 'utf8').length > 0, 'host2\'s share is queued on disk');
  });
});

// ---- 4. names: odd ones replicate exactly; ones that are not UTF-8 are reported, never lost --------

describe('names: newline, backslash, leading dash replicate around the ring; non-UTF-8 is reported', () => {
  let c: Case;
  let ds: Daemon[] = [];
  const odd = ['new\nline.txt', 'back\\slash.txt', '-rf', '--help', '-dir/-x', ' leading space', 'tab\there'];
  const latin1 = Buffer.from('caf\xe9-latin1.txt', 'latin1');
  const latin1Dir = Buffer.from('d\xe9j\xe0', 'latin1');
  before(async () => {
    c = ringCase('names');
    ds = ring.hosts.map((h) => spawnChain(['--config', c.file, '--host', h.name, 'watch']));
    daemons.push(...ds);
    await Promise.all(ds.map((d) => d.waitFor(/watching /)));
    const r1 = c.roots[0];
    mkdirSync(join(r1, '-dir'));
    for (const n of odd) writeFileSync(join(r1, n), `content of ${JSON.stringify(n)}\n`);
    writeFileSync(Buffer.concat([Buffer.from(r1 + '/'), latin1]), 'latin-1 name\n');
    mkdirSync(Buffer.concat([Buffer.from(r1 + '/'), latin1Dir]));
    writeFileSync(Buffer.concat([Buffer.from(r1 + '/'), latin1Dir, Buffer.from('/inner.txt')]), 'inside a latin-1 dir\n');
    await until(() => ringDiff(c.roots).length === 0 && odd.every((n) => existsSync(join(c.roots[2], n))), 60_000, () => `odd names around the ring:\n${ringDiff(c.roots).join('\n')}\n${ds.map((d) => d.log()).join('\n')}`);
  });
  after(async () => {
    for (const d of ds) if (daemons.includes(d)) await d.stop('SIGKILL').catch(() => {});
  });

  for (const [label, name] of [
    ['a newline', 'new\nline.txt'],
    ['a backslash', 'back\\slash.txt'],
    ['a leading dash (never taken for an option)', '-rf'],
    ['a leading double dash', '--help'],
    ['a leading dash, directory and file', '-dir/-x'],
  ] as const) {
    test(`a name with ${label} arrives byte for byte on every host`, () => {
      for (const root of c.roots.slice(1)) assert.equal(readFileSync(join(root, name), 'utf8'), `content of ${JSON.stringify(name)}\n`, root);
    });
  }

  test('names that are not UTF-8: reported with their bytes and what to do, kept here, nothing half-written there', { timeout: 60_000 }, async () => {
    const h1 = ds[0];
    await h1.waitFor(/could not push caf\uFFFD-latin1\.txt to host2: refusing path .*the name "caf\\xe9-latin1\.txt" is not valid UTF-8, and chain replicates UTF-8 names only; rename it/, 30_000);
    await h1.waitFor(/could not push d\uFFFDj\uFFFD to host2: .*the name "d\\xe9j\\xe0" is not valid UTF-8/, 30_000);
    // nothing lost here; nothing under a mangled name there
    assert.ok(rawNames(c.roots[0]).some((b) => b.equals(latin1)) && rawNames(c.roots[0]).some((b) => b.equals(latin1Dir)));
    for (const root of c.roots.slice(1)) {
      for (const b of rawNames(root)) {
        const s = b.toString('utf8');
        assert.ok(Buffer.from(s).equals(b) && !s.includes('\uFFFD') && !s.startsWith('caf'), `${root}: ${JSON.stringify(s)}`);
      }
    }
  });

  test('push while watch runs: exit 75, who holds the lock, try later', { timeout: 60_000 }, async () => {
    const r = await chain(['--config', c.file, '--host', 'host2', 'push']);
    expectRun(r, 75, [new RegExp(`chain watch \\(pid \\d+\\) already works this host's state dir \\(${esc(join(c.states[1], 'lock'))}\\); try again later`)]);
  });

  test('push (first run, whole-tree compare) also reports non-UTF-8 names: exit 1', { timeout: 60_000 }, async () => {
    for (const d of ds) assert.equal(await d.stop('SIGTERM'), 0);
    daemons.splice(0, daemons.length, ...daemons.filter((d) => !ds.includes(d)));
    rmSync(join(c.states[0]), { recursive: true, force: true });
    const r = await chain(['--config', c.file, '--host', 'host1', 'push']);
    expectRun(r, 1, [/could not push caf\uFFFD-latin1\.txt to host2: .*"caf\\xe9-latin1\.txt" is not valid UTF-8/, /could not push d\uFFFDj\uFFFD to host2: .*not valid UTF-8/]);
    // the next run still knows: a name that cannot be sent is not forgotten as if done
    const again = await chain(['--config', c.file, '--host', 'host1', 'push']);
    expectRun(again, 1, [/caf\uFFFD-latin1\.txt .*not valid UTF-8/]);
    rmSync(Buffer.concat([Buffer.from(c.roots[0] + '/'), latin1]));
    rmSync(Buffer.concat([Buffer.from(c.roots[0] + '/'), latin1Dir]), { recursive: true });
  });
});

// ---- 5. files that change, vanish, cannot be read, are huge, or do not fit ------------------------

/** start a push and call during() as soon as host2 holds 8 MiB of a temp file: a big file is on its way */
async function whileSending(c: Case, during: () => void): Promise<RunResult> {
  const tmp = join(c.roots[1], '.chain', 'tmp');
  const run = chain(['--config', c.file, '--host', 'host1', 'push'], { timeout: 120_000 });
  let seen = false;
  let done = false;
  void run.then(() => (done = true));
  const sending = () =>
    existsSync(tmp) && readdirSync(tmp).some((n) => n.startsWith('.chain-tmp-') && (statSync(join(tmp, n), { throwIfNoEntry: false })?.size ?? 0) >= 8 * 1024 * 1024);
  while (!done && !seen) {
    if (sending()) {
      seen = true;
      during();
    } else await new Promise((r) => setTimeout(r, 5));
  }
  const r = await run;
  assert.ok(seen, `the push ended before its temp file was seen:\n${out(r)}`);
  return r;
}

describe('content under change, unreadable, huge or out of space', () => {
  test('a file changed while it is sent: the changed version arrives, never a torn mix', { timeout: 120_000 }, async () => {
    const c = ringCase('changed');
    const f = join(c.roots[0], 'growing.bin');
    writeFileSync(f, Buffer.alloc(256 * 1024 * 1024, 1));
    const r = await whileSending(c, () => appendFileSync(f, 'appended while sent\n'));
    expectRun(r, 0, [/pushed 1 file \(256\.0 MiB\) to host2/]);
    assert.deepEqual(snapshot(c.roots[1]).get('growing.bin'), snapshot(c.roots[0]).get('growing.bin'));
    assertNoTemps(c.roots[1]);
    rmSync(f);
    rmSync(join(c.roots[1], 'growing.bin'));
  });

  test('a file deleted while it is sent: not published there (it would come back around the ring)', { timeout: 120_000 }, async () => {
    const c = ringCase('deleted');
    const f = join(c.roots[0], 'doomed.bin');
    writeFileSync(f, Buffer.alloc(256 * 1024 * 1024, 2));
    writeFileSync(join(c.roots[0], 'stays.txt'), 'stays\n');
    const r = await whileSending(c, () => rmSync(f));
    expectRun(r, 0, []);
    assert.ok(!existsSync(join(c.roots[1], 'doomed.bin')), 'a file deleted while sent was published on host2');
    assert.equal(readFileSync(join(c.roots[1], 'stays.txt'), 'utf8'), 'stays\n');
    assertNoTemps(c.roots[1]);
  });

  test('an unreadable local file: exit 1, its path and what to do; the rest is sent; it stays here', { timeout: 60_000, skip: !IS_ROOT && 'needs root for setpriv' }, async () => {
    const c = ringCase('unreadable');
    const secret = join(c.roots[0], 'secret.txt');
    writeFileSync(secret, 'only root may read this\n');
    chmodSync(secret, 0o000);
    writeFileSync(join(c.roots[0], 'public.txt'), 'anyone\n');
    const r = await chain(['--config', c.file, '--host', 'host1', 'push'], { wrap: NO_DAC });
    expectRun(r, 1, [new RegExp(`could not push secret\\.txt to host2: cannot read ${esc(secret)}: permission denied; make it readable by the user chain runs as \\(uid \\d+\\), or exclude it`)]);
    assert.equal(readFileSync(join(c.roots[1], 'public.txt'), 'utf8'), 'anyone\n');
    assert.ok(!existsSync(join(c.roots[1], 'secret.txt')));
    assert.equal(statSync(secret).mode & 0o777, 0, 'the local file is left as it was');
    assertNoTemps(c.roots[1]);
    // readable again: the next run sends it (it stayed queued)
    chmodSync(secret, 0o600);
    const again = await chain(['--config', c.file, '--host', 'host1', 'push'], { wrap: NO_DAC });
    expectRun(again, 0, [/pushed 1 file/]);
    assert.equal(readFileSync(join(c.roots[1], 'secret.txt'), 'utf8'), 'only root may read this\n');
  });

  // SFTP v3 has no holes: every byte crosses the wire and the copy is not sparse (4 GiB of disk on
  // host2, removed at the end). One hop, with push, keeps it to one transfer (~25 s on 2 cores);
  // the point is offsets past 2^32, where a 32-bit slip would truncate or wrap.
  test('a 4 GiB sparse file arrives whole, with the bytes past 4 GiB in place', { timeout: 240_000 }, async () => {
    const c = ringCase('sparse');
    const f = join(c.roots[0], 'disk.img');
    const size = 4 * GiB + 4096;
    writeFileSync(f, '');
    truncateSync(f, size);
    const marker = Buffer.from('past the 4 GiB mark\n');
    const fd = openSync(f, 'r+');
    writeSync(fd, marker, 0, marker.length, 4 * GiB + 100);
    closeSync(fd);
    try {
      const r = await chain(['--config', c.file, '--host', 'host1', 'push'], { timeout: 220_000 });
      expectRun(r, 0, [/pushed 1 file \(4\.0 GiB\) to host2/]);
      const copy = join(c.roots[1], 'disk.img');
      assert.equal(statSync(copy).size, size);
      const got = Buffer.alloc(marker.length);
      const cfd = openSync(copy, 'r');
      readSync(cfd, got, 0, got.length, 4 * GiB + 100);
      closeSync(cfd);
      assert.equal(got.toString(), marker.toString());
      assertNoTemps(c.roots[1]);
    } finally {
      rmSync(f, { force: true });
      rmSync(join(c.roots[1], 'disk.img'), { force: true });
    }
  });

  test('target disk full: exit 1 naming the file and the likely cause, no partial file; sent once there is room', { timeout: 120_000, skip: !IS_ROOT && 'mount needs root' }, async () => {
    const c = ringCase('full');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', c.roots[1]]);
    mounts.push(c.roots[1]);
    try {
      writeFileSync(join(c.roots[0], 'big.bin'), randomBytes(3 * 1024 * 1024));
      for (let i = 0; i < 5; i++) writeFileSync(join(c.roots[0], `small-${i}.txt`), `small ${i}\n`);
      // the first run compares the whole tree: a failure found there must not be forgotten
      const r = await chain(['--config', c.file, '--host', 'host1', 'push']);
      expectRun(r, 1, [/could not push big\.bin to host2: host2: cannot write .*: failed \(the server gave no reason: the disk may be full, or a directory is in the way\)/]);
      assert.ok(!existsSync(join(c.roots[1], 'big.bin')), 'a partial big.bin on host2');
      // whatever landed is whole: a file there is the file here
      const s0 = snapshot(c.roots[0]);
      for (const [p, n] of snapshot(c.roots[1])) assert.deepEqual(n, s0.get(p), p);
      assertNoTemps(c.roots[1]);
      execFileSync('mount', ['-o', 'remount,size=16m', c.roots[1]]);
      const again = await chain(['--config', c.file, '--host', 'host1', 'push']);
      expectRun(again, 0, [/pushed \d+ files? \(.*\) to host2/]);
      assert.deepEqual(diffSnapshots(snapshot(c.roots[0]), snapshot(c.roots[1])), []);
    } finally {
      execFileSync('umount', [c.roots[1]]);
      mounts.splice(mounts.indexOf(c.roots[1]), 1);
    }
  });
});

// ---- 6. never outside a root: symlinked directories, "..", links copied verbatim -------------------

describe('nothing is written outside a root, nothing is followed', () => {
  test('a symlinked directory on the target pointing outside its root is never written through', { timeout: 60_000 }, async () => {
    const c = ringCase('symdir');
    mkdirSync(join(c.roots[0], 'uploads'));
    writeFileSync(join(c.roots[0], 'uploads', 'a.txt'), 'first\n');
    expectRun(await chain(['--config', c.file, '--host', 'host1', 'push']), 0, []);
    // someone on host2 swaps the directory for a link out of the root
    rmSync(join(c.roots[1], 'uploads'), { recursive: true });
    symlinkSync(join(outside, 'sub'), join(c.roots[1], 'uploads'));
    writeFileSync(join(c.roots[0], 'uploads', 'b.txt'), 'must not land outside\n');
    const r = await chain(['--config', c.file, '--host', 'host1', 'push']);
    expectRun(r, 1, [
      new RegExp(`could not push uploads/b\\.txt to host2: host2: refusing to write ${esc(c.roots[1])}/uploads: ${esc(c.roots[1])}/uploads is a symlink or a file, not a directory, and chain never writes through it; if it should be a directory, replace it on host2`),
    ]);
    assert.equal(readlinkSync(join(c.roots[1], 'uploads')), join(outside, 'sub'), 'the link itself is left alone');
    assert.ok(existsSync(join(c.roots[0], 'uploads', 'b.txt')));
  });

  test('".." and absolute paths in an inbox manifest are ignored with a warning; a path through a symlink is refused', { timeout: 60_000 }, async () => {
    const c = ringCase('inbox');
    const r2 = c.roots[1];
    writeFileSync(join(r2, 'ok.txt'), 'fine\n');
    symlinkSync(outside, join(r2, 'link'));
    // a file just outside host2's case root, where "../escape.txt" points: it must not travel
    writeFileSync(join(ring.hosts[1].root, 'escape.txt'), 'outside the case root\n');
    mkdirSync(join(r2, '.chain', 'inbox'), { recursive: true });
    const now = Date.now();
    const manifest = { v: 1, from: 'host1', changes: [['../escape.txt', 'c', now], ['a/../../escape.txt', 'c', now], ['/etc/hostname', 'c', now], ['link/secret', 'c', now], ['ok.txt', 'c', now]] };
    writeFileSync(join(r2, '.chain', 'inbox', '00000000000001-1-000000.json'), JSON.stringify(manifest));
    try {
      const r = await chain(['--config', c.file, '--host', 'host2', 'push']);
      expectRun(r, 1, [
        /ignored a path in the inbox manifest .*00000000000001-1-000000\.json: refusing path "\.\.\/escape\.txt": contains "\.\."/,
        /ignored a path in the inbox manifest .*: refusing path "a\/\.\.\/\.\.\/escape\.txt": contains "\.\."/,
        /ignored a path in the inbox manifest .*: refusing path "\/etc\/hostname": is absolute/,
        /could not push link\/secret to host3: refusing path "link\/secret": "link" goes through a symlink/,
      ]);
      const r3 = c.roots[2];
      assert.equal(readFileSync(join(r3, 'ok.txt'), 'utf8'), 'fine\n');
      assert.ok(!existsSync(join(ring.hosts[2].root, 'escape.txt')) && !existsSync(join(r3, 'escape.txt')) && !existsSync(join(r3, 'hostname')));
      // the link travels as a link, verbatim; what it points to does not
      assert.equal(readlinkSync(join(r3, 'link')), outside);
      assert.ok(!existsSync(join(r3, 'secret')));
    } finally {
      rmSync(join(ring.hosts[1].root, 'escape.txt'), { force: true });
    }
  });

  test('symlinks with ".." or absolute targets are copied verbatim and never followed', { timeout: 60_000 }, async () => {
    const c = ringCase('links');
    const r1 = c.roots[0];
    mkdirSync(join(r1, 'deep', 'er'), { recursive: true });
    const links: [string, string][] = [
      ['up', '../..'],
      ['deep/er/escape', '../../../../outside'],
      ['abs', outside],
      ['etc', '/etc'],
      ['self-loop', 'self-loop'],
      ['dangling', 'no/such/thing'],
    ];
    for (const [p, t] of links) symlinkSync(t, join(r1, p));
    const r = await chain(['--config', c.file, '--host', 'host1', 'push']);
    expectRun(r, 0, [/pushed .*6 links to host2/]);
    for (const [p, t] of links) assert.equal(readlinkSync(join(c.roots[1], p)), t, p);
    // the trees are the same: links, not what they point to
    assert.deepEqual(diffSnapshots(snapshot(r1), snapshot(c.roots[1])), []);
    assert.deepEqual(readdirSync(c.roots[1]).sort(), ['.chain', 'abs', 'dangling', 'deep', 'etc', 'self-loop', 'up']);
  });
});
