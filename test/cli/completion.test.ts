// `chain completion`: the bash script it prints is valid bash, needs no config to be printed, and
// completes as a user sees it at a prompt: the script is sourced in a real bash, COMP_LINE and
// COMP_POINT are set as readline sets them, and its function is called; `chain` on PATH is the
// real bin/chain (built by `npm test`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import { BIN, chain } from '../support/chain.js';

let dir: string;
let script: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'chain-completion-'));
  mkdirSync(join(dir, 'ring', 'sub'), { recursive: true });
  writeFileSync(
    join(dir, 'ring', 'chain.yaml'),
    stringify({
      root: '/srv/images',
      hosts: ['apollo', 'chronos', 'hermes'].map((name, i) => ({ name, address: '127.0.0.1', port: 2201 + i })),
    }),
  );
  // a second ring, named with --config
  writeFileSync(join(dir, 'other.yaml'), stringify({ root: '/srv/x', hosts: [{ name: 'left', address: 'a' }, { name: 'right', address: 'b' }] }));
  const r = await chain(['completion'], { env: { CHAIN_CONFIG: '' } });
  assert.equal(r.exitCode, 0, r.stderr);
  script = join(dir, 'chain.bash');
  writeFileSync(script, r.stdout);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** what bash offers for `line` with the cursor at its end: the script's COMPREPLY */
async function complete(line: string, cwd = join(dir, 'ring')): Promise<string[]> {
  const r = await execa(
    'bash',
    ['--norc', '--noprofile', '-c', 'source "$1"; COMP_LINE=$2; COMP_POINT=${#2}; _chain_complete; printf "%s\\n" "${COMPREPLY[@]}"', 'bash', script, line],
    { cwd, reject: false, env: { PATH: `${dirname(BIN)}:${process.env.PATH}`, HOME: dir, CHAIN_CONFIG: '', CHAIN_HOST: '' }, extendEnv: false },
  );
  assert.equal(r.exitCode, 0, `${line}: ${r.stderr}`);
  assert.equal(r.stderr, '', `${line}: the script wrote to the terminal`);
  return r.stdout.split('\n').filter(Boolean);
}

test('the script is valid bash, and printing it needs no config file', async () => {
  const r = await execa('bash', ['-n', script], { reject: false });
  assert.equal(r.exitCode, 0, r.stderr);
  // printed in a directory with no chain.yaml and no CHAIN_CONFIG
  const p = await execa(BIN, ['completion'], { cwd: dir, reject: false, env: { CHAIN_CONFIG: '' } });
  assert.equal(p.exitCode, 0, p.stderr);
  assert.match(p.stdout, /^complete -F _chain_complete chain$/m);
});

test('commands, and options of the command on the line', async () => {
  const commands = await complete('chain ');
  for (const c of ['init', 'check', 'trust', 'watch', 'push', 'repair', 'status', 'completion']) assert.ok(commands.includes(c), `${c} in ${commands}`);
  assert.deepEqual(await complete('chain st'), ['status']);
  const repair = await complete('chain repair --');
  for (const o of ['--link', '--from', '--delete', '--dry-run', '--max-delete', '--config', '--host', '--json', '--no-progress']) assert.ok(repair.includes(o), `${o} in ${repair}`);
  assert.ok(!repair.includes('--ring'), 'a status option offered for repair');
  assert.deepEqual(await complete('chain status --r'), ['--ring']);
  assert.deepEqual(await complete('chain --no-p'), ['--no-progress']);
});

test('choices of an option, also as --option=value', async () => {
  assert.deepEqual((await complete('chain --log-format ')).sort(), ['json', 'text']);
  assert.deepEqual(await complete('chain watch --log-format=j'), ['json']);
});

test("host names from the ring of the config on the line: --host, --from, trust, --link A:B", async () => {
  assert.deepEqual(await complete('chain --host '), ['apollo', 'chronos', 'hermes']);
  assert.deepEqual(await complete('chain --host=ch'), ['chronos']);
  assert.deepEqual(await complete('chain repair --from h'), ['hermes']);
  assert.deepEqual(await complete('chain trust apollo '), ['apollo', 'chronos', 'hermes']);
  assert.deepEqual(await complete('chain repair --link '), ['apollo:', 'chronos:', 'hermes:']);
  // bash splits words at ":", so the reply is what follows it
  assert.deepEqual(await complete('chain repair --link apollo:'), ['chronos', 'hermes']);
  assert.deepEqual(await complete('chain repair --link=apollo:h'), ['hermes']);
  assert.deepEqual(await complete(`chain --config ${join(dir, 'other.yaml')} trust `), ['left', 'right']);
  assert.deepEqual(await complete('chain --config=../other.yaml --host '), ['left', 'right']);
  // no config: nothing to offer, and nothing printed on the terminal
  assert.deepEqual(await complete('chain --host ', dir), []);
});

test('file names after --config', async () => {
  assert.deepEqual(await complete('chain --config ch'), ['chain.yaml']);
  assert.deepEqual(await complete('chain --config=s'), ['sub']);
});

test('completion --list-hosts prints the ring, and refuses a missing config like every command', async () => {
  const r = await execa(BIN, ['completion', '--list-hosts'], { cwd: join(dir, 'ring'), reject: false, env: { CHAIN_CONFIG: '' } });
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(r.stdout, 'apollo\nchronos\nhermes');
  const none = await execa(BIN, ['completion', '--list-hosts'], { cwd: dir, reject: false, env: { CHAIN_CONFIG: '' } });
  assert.equal(none.exitCode, 2);
  assert.match(none.stderr, /no config file/);
});
