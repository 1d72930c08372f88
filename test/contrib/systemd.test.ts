// The systemd units of contrib/systemd/, read as systemd reads them: known sections and directives
// only (checked against systemd's own list when systemd is installed), the settings the operator
// kit promises (restart, reload by SIGHUP, hardening, exit 75 as success for the timer run), and
// ExecStart lines that the real bin/chain parses: the same arguments plus --help must show that
// command's help. With systemd-analyze present, `systemd-analyze verify` must pass without a word.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, chain } from '../support/chain.js';
import { packageRoot } from '../../src/config/starter.js';

const DIR = join(packageRoot(), 'contrib', 'systemd');
const UNITS = ['chain.service', 'chain@.service', 'chain-push.service', 'chain-push.timer'];

type Unit = Map<string, [key: string, value: string][]>;

/** systemd's unit file syntax: [Section], Key=Value, "#" and ";" comments, "\" continues a line. */
function parseUnit(text: string, file: string): Unit {
  const unit: Unit = new Map();
  let section: [string, string][] | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + ' ' + lines[++i]!.trim();
    const head = /^\[([A-Za-z]+)\]$/.exec(line);
    if (head) {
      assert.ok(!unit.has(head[1]!), `${file}:${i + 1}: section [${head[1]}] twice`);
      section = [];
      unit.set(head[1]!, section);
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    assert.ok(kv, `${file}:${i + 1}: not a Key=Value line: ${line}`);
    assert.ok(section, `${file}:${i + 1}: ${kv[1]} before any [Section]`);
    section.push([kv[1]!, kv[2]!.trim()]);
  }
  return unit;
}

const units = Object.fromEntries(UNITS.map((f) => [f, parseUnit(readFileSync(join(DIR, f), 'utf8'), f)]));

function get(file: string, section: string, key: string): string[] {
  return (units[file]!.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}
const one = (file: string, section: string, key: string): string | undefined => get(file, section, key).at(-1);

// Every directive these units use, per section; a typo ("ProtectSytem") is not one of them, and
// systemd would only warn and ignore it, silently dropping a protection.
const EXEC = ['User', 'Group', 'Environment', 'ProtectSystem', 'ProtectHome', 'ReadWritePaths', 'PrivateTmp', 'PrivateDevices', 'NoNewPrivileges',
  'CapabilityBoundingSet', 'AmbientCapabilities', 'RestrictAddressFamilies', 'RestrictNamespaces', 'RestrictRealtime', 'RestrictSUIDSGID',
  'LockPersonality', 'ProtectKernelTunables', 'ProtectKernelModules', 'ProtectKernelLogs', 'ProtectControlGroups', 'ProtectClock',
  'ProtectHostname', 'ProtectProc', 'RemoveIPC', 'SystemCallArchitectures', 'SystemCallFilter', 'SystemCallErrorNumber', 'StateDirectory'];
const KNOWN: Record<string, string[]> = {
  Unit: ['Description', 'Documentation', 'Wants', 'After', 'Before', 'Requires', 'Conflicts'],
  Service: ['Type', 'ExecStart', 'ExecReload', 'Restart', 'RestartSec', 'RestartPreventExitStatus', 'SuccessExitStatus', 'TimeoutStopSec', 'TimeoutStartSec', ...EXEC],
  Timer: ['OnCalendar', 'OnBootSec', 'OnUnitActiveSec', 'AccuracySec', 'Persistent', 'RandomizedDelaySec', 'Unit'],
  Install: ['WantedBy', 'RequiredBy', 'Also', 'Alias', 'DefaultInstance'],
};

/** systemd's own list of directives per section, when systemd is installed here */
function systemdDirectives(): Map<string, Set<string>> | null {
  const bin = ['/usr/lib/systemd/systemd', '/lib/systemd/systemd'].find((p) => existsSync(p));
  if (!bin) return null;
  const r = spawnSync(bin, ['--dump-configuration-items'], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  const out = new Map<string, Set<string>>();
  let cur: Set<string> | undefined;
  for (const line of r.stdout.split('\n')) {
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) out.set(s[1]!, (cur = out.get(s[1]!) ?? new Set()));
    else if (cur && /^\w+=/.test(line)) cur.add(line.slice(0, line.indexOf('=')));
  }
  return out;
}

test('every section and directive is one systemd knows', () => {
  const systemd = systemdDirectives();
  for (const [file, unit] of Object.entries(units)) {
    for (const [section, entries] of unit) {
      assert.ok(KNOWN[section], `${file}: unknown section [${section}]`);
      for (const [key] of entries) {
        assert.ok(KNOWN[section]!.includes(key), `${file}: [${section}] ${key} is not a directive these units are known to use`);
        // systemd lists execution and sandboxing settings under [Service] (and [Socket], ...) too
        if (systemd) assert.ok(systemd.get(section)?.has(key), `${file}: systemd does not know [${section}] ${key}`);
      }
    }
  }
});

test('the services run chain as the chain user, hardened, with the state dir writable', () => {
  for (const file of ['chain.service', 'chain@.service', 'chain-push.service']) {
    const s = (k: string) => one(file, 'Service', k);
    assert.equal(s('User'), 'chain', file);
    assert.equal(s('ProtectSystem'), 'strict', file);
    assert.match(s('ProtectHome') ?? '', /^(read-only|tmpfs|yes)$/, file);
    assert.equal(s('PrivateTmp'), 'yes', file);
    assert.equal(s('NoNewPrivileges'), 'yes', file);
    assert.equal(s('CapabilityBoundingSet'), '', `${file}: no capabilities at all`);
    assert.deepEqual(s('RestrictAddressFamilies')?.split(/\s+/).sort(), ['AF_INET', 'AF_INET6', 'AF_UNIX'], file);
    assert.equal(s('SystemCallFilter'), '@system-service', file);
    // a filtered call fails with EPERM (libuv falls back) instead of killing node with SIGSYS
    assert.equal(s('SystemCallErrorNumber'), 'EPERM', file);
    // node's JIT needs writable+executable memory
    assert.equal(s('MemoryDenyWriteExecute'), undefined, file);
    assert.match(s('StateDirectory') ?? '', /^chain(\/%i)?$/, file);
    assert.ok(one(file, 'Unit', 'Documentation')?.includes('man:chain(1)'), file);
    assert.ok(get(file, 'Unit', 'After').some((v) => v.includes('network-online.target')), file);
  }
  // the root: writable in the plain units, by a drop-in in the template (which cannot know it)
  for (const file of ['chain.service', 'chain-push.service']) assert.ok(get(file, 'Service', 'ReadWritePaths').length > 0, file);
  assert.match(readFileSync(join(DIR, 'chain@.service'), 'utf8'), /systemctl edit chain@\S+[\s\S]*ReadWritePaths=/);
});

test('the daemons restart on failure but not on a bad config, and reload on SIGHUP', () => {
  for (const file of ['chain.service', 'chain@.service']) {
    assert.equal(one(file, 'Service', 'Restart'), 'on-failure', file);
    assert.equal(one(file, 'Service', 'RestartPreventExitStatus'), '2', file);
    assert.match(one(file, 'Service', 'ExecReload') ?? '', /^\/bin\/kill -HUP \$MAINPID$/, file);
    assert.equal(one(file, 'Install', 'WantedBy'), 'multi-user.target', file);
  }
  assert.match(one('chain@.service', 'Service', 'ExecStart') ?? '', /--config \/etc\/chain\/%i\.yaml watch$/);
  assert.equal(one('chain@.service', 'Service', 'StateDirectory'), 'chain/%i', 'each ring its own state dir');
});

test('chain-push runs once a minute, and a busy run (exit 75) is not a failure', () => {
  assert.equal(one('chain-push.service', 'Service', 'Type'), 'oneshot');
  assert.ok(one('chain-push.service', 'Service', 'SuccessExitStatus')?.split(/\s+/).includes('75'));
  assert.equal(one('chain-push.service', 'Service', 'Restart'), undefined, 'the timer is the retry');
  assert.equal(one('chain-push.timer', 'Timer', 'OnCalendar'), 'minutely');
  assert.equal(one('chain-push.timer', 'Timer', 'Unit'), 'chain-push.service');
  assert.equal(one('chain-push.timer', 'Install', 'WantedBy'), 'timers.target');
});

test('each ExecStart is a chain command line the real bin/chain parses', async () => {
  for (const file of UNITS.filter((f) => f.endsWith('.service'))) {
    const exec = get(file, 'Service', 'ExecStart');
    assert.equal(exec.length, 1, file);
    const [bin, ...args] = exec[0]!.replace(/%i/g, 'images').split(/\s+/);
    assert.equal(bin, '/usr/bin/chain', `${file}: the path npm install -g and distribution packages use`);
    const command = args.filter((a, i) => !a.startsWith('-') && !args[i - 1]?.startsWith('--config')).at(-1);
    assert.ok(command, `${file}: no command in ${exec[0]}`);
    // strict parsing: an unknown command or option would exit 2 instead of printing the help
    const r = await chain([...args, '--help']);
    assert.equal(r.exitCode, 0, `${file}: chain ${args.join(' ')} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^chain ${command}\\b`), `${file}: "${command}" is not a chain command`);
  }
});

test('systemd-analyze verify accepts every unit without a warning', (t) => {
  if (spawnSync('systemd-analyze', ['--version']).status !== 0) return t.skip('systemd-analyze is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'chain-units-'));
  try {
    // the real binary stands in for /usr/bin/chain, which verify checks is executable
    for (const f of readdirSync(DIR)) writeFileSync(join(dir, f), readFileSync(join(DIR, f), 'utf8').replaceAll('/usr/bin/chain', BIN));
    const files = ['chain.service', 'chain@images.service', 'chain-push.service', 'chain-push.timer'].map((f) => join(dir, f));
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', ...files], {
      encoding: 'utf8',
      env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` },
    });
    const ours = r.stderr.split('\n').filter((l) => /chain/.test(l));
    assert.deepEqual(ours, [], r.stderr);
    assert.equal(r.status, 0, r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
