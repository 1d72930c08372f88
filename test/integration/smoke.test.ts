// Issue 5, item 4: the container smoke kit's one script, test/smoke/smoke.sh, run for real against
// three loopback sshd hosts (no container engine needed) in both its modes: --local, where every
// root is a directory on this machine, and over ssh, the path the containers of
// test/smoke/compose.yaml take. A failing step is named in its line and in the summary; usage
// errors exit 2.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { startHosts, type Ring } from '../support/sshd.js';
import { BIN } from '../support/chain.js';

const SMOKE = join(dirname(fileURLToPath(import.meta.url)), '..', 'smoke');
const SCRIPT = join(SMOKE, 'smoke.sh');
const STEPS = ['check', 'watch', 'write', 'converge', 'diverge', 'repair', 'verify'];

let ring: Ring;
let cfg: string;
/** chain as one word for the host side: this node and this checkout's bin/chain, whatever PATH an ssh session has */
let remoteChain: string;

before(async () => {
  ring = await startHosts(3);
  cfg = ring.writeConfig({ interval: '300ms' });
  remoteChain = join(ring.dir, 'chain.sh');
  writeFileSync(remoteChain, `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
  chmodSync(remoteChain, 0o755);
});

after(async () => {
  // a daemon the script started and could not stop (a failed or killed run) must not outlive the test
  for (const f of existsSync(ring?.dir ?? '') ? readdirSync(ring.dir) : []) {
    if (!f.endsWith('.pid')) continue;
    const pid = Number(readFileSync(join(ring.dir, f), 'utf8').trim());
    try {
      if (pid > 0) process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  await ring?.stop();
});

async function smoke(args: string[], timeoutMs = 240_000) {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
  delete env.CHAIN_HOST;
  delete env.CHAIN_CONFIG;
  delete env.SMOKE_HOSTS;
  const r = await execa('bash', [SCRIPT, ...args], { reject: false, stdin: 'ignore', env, extendEnv: false, all: true, timeout: timeoutMs });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), all: String(r.all) };
}

function assertPassed(r: { exitCode: number; stdout: string; all: string }): void {
  assert.equal(r.exitCode, 0, r.all);
  STEPS.forEach((s, i) => {
    assert.match(r.stdout, new RegExp(`^\\[${i + 1}/7\\] ${s}: ok \\(\\d+\\.\\ds\\)`, 'm'), `step ${s}:\n${r.all}`);
    assert.match(r.stdout, new RegExp(`^  ${i + 1} ${s} +ok `, 'm'), `summary line of ${s}:\n${r.all}`);
  });
  assert.match(r.stdout, /^smoke: PASSED: 7 of 7 steps in \d+\.\ds$/m);
  assert.match(r.stdout, /\[4\/7\] converge: ok .*30 paths \(26 files, 3 directories, 1 symlink\) identical on host1 host2 host3/);
  assert.match(r.stdout, /\[6\/7\] repair: ok .*host1, host2, host3 are consistent/);
}

/** nothing of the scenario is left in the roots, and no daemon it started still runs */
function assertCleanedUp(pidPrefix: string): void {
  for (const h of ring.hosts) assert.deepEqual(readdirSync(h.root).filter((n) => n.startsWith('chain-smoke-')), [], `${h.name}: scenario dir removed`);
  for (const h of ring.hosts) assert.equal(existsSync(join(ring.dir, `${pidPrefix}${h.name}.pid`)), false, `${h.name}: pid file removed (daemon stopped)`);
}

test('smoke.sh: bash -n, shellcheck when installed, usage errors exit 2', { timeout: 60_000 }, async () => {
  for (const f of ['smoke.sh', 'entrypoint.sh']) {
    const n = await execa('bash', ['-n', join(SMOKE, f)], { reject: false });
    assert.equal(n.exitCode, 0, `${f}: ${n.stderr}`);
  }
  // shellcheck is not part of CI's machine (apt-get install shellcheck to run this part)
  const sc = await execa('shellcheck', [SCRIPT, join(SMOKE, 'entrypoint.sh')], { reject: false });
  if (sc.exitCode !== undefined) assert.equal(sc.exitCode, 0, sc.stdout + sc.stderr);

  const help = await smoke(['--help']);
  assert.equal(help.exitCode, 0);
  assert.match(help.stdout, /usage: smoke.sh --config FILE/);
  for (const [args, msg] of [
    [[], /--config FILE is required/],
    [['--config', cfg, '--watch', 'sometimes'], /--watch takes start or running/],
    [['--config', cfg, '--timeout', 'soon'], /--timeout takes a whole number/],
    [['--config', cfg, '--local', 'host1=127.0.0.1:22'], /--local takes no host endpoints/],
    [['--config', cfg, 'stray'], /unexpected argument "stray"/],
  ] as const) {
    const r = await smoke([...args]);
    assert.equal(r.exitCode, 2, r.all);
    assert.match(r.all, msg);
  }
});

test('smoke.sh --local: check, watch, write, converge, diverge, repair, verify all pass', { timeout: 240_000 }, async () => {
  const r = await smoke(['--local', '--config', cfg, '--chain', BIN, '--pidfile', join(ring.dir, 'local-%h.pid'), '--timeout', '90']);
  assertPassed(r);
  assert.match(r.stdout, /local roots/);
  assertCleanedUp('local-');
});

test('smoke.sh over ssh (the container path): every step passes', { timeout: 240_000 }, async () => {
  const r = await smoke([
    '--config', cfg,
    '--chain', BIN,
    '--remote-chain', remoteChain,
    '--pidfile', join(ring.dir, 'ssh-%h.pid'),
    '--ssh-config', '/dev/null',
    '--ssh-user', ring.user,
    '--identity', ring.clientKey,
    '--known-hosts', ring.knownHosts,
    '--timeout', '90',
  ]);
  assertPassed(r);
  assert.match(r.stdout, /over ssh/);
  assertCleanedUp('ssh-');
  // what the daemons said, in the log files beside their pid files
  assert.match(readFileSync(join(ring.dir, 'ssh-host1.log'), 'utf8'), /watching .*pushing to host2/);
});

test('a failing step is named, later steps are "not run", exit 1', { timeout: 120_000 }, async () => {
  // --watch running, but no daemon runs: step 2 fails at once
  const r = await smoke(['--local', '--config', cfg, '--chain', BIN, '--watch', 'running', '--pidfile', join(ring.dir, 'absent-%h.pid')]);
  assert.equal(r.exitCode, 1, r.all);
  assert.match(r.stdout, /^\[1\/7\] check: ok/m);
  assert.match(r.stdout, /^\[2\/7\] watch: FAILED: chain watch is not running on host1$/m);
  assert.match(r.stdout, /no pid file .*absent-host1\.pid/);
  for (const s of STEPS.slice(2)) assert.match(r.stdout, new RegExp(`^  \\d ${s} +not run`, 'm'));
  assert.match(r.stdout, /^smoke: FAILED at step 2\/7 \(watch\): chain watch is not running on host1$/m);

  // a host whose sshd is down: step 1 fails, and says which host
  await ring.hosts[2].kill();
  const c = await smoke(['--local', '--config', cfg, '--chain', BIN]);
  assert.equal(c.exitCode, 1, c.all);
  assert.match(c.stdout, /^\[1\/7\] check: FAILED: chain check exited 3$/m);
  assert.match(c.stdout, /host3 127\.0\.0\.1:\d+ .*: reachable FAILED/);
  assert.match(c.stdout, /^smoke: FAILED at step 1\/7 \(check\)/m);
});
