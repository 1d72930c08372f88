// chain.example.yaml is both the reference and the starter `chain init` writes: it must parse,
// document exactly the keys the schema accepts, show the defaults, and its commented examples
// must be valid when uncommented.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ChainError } from '../../src/core/errors.js';
import { EXIT } from '../../src/core/exit-codes.js';
import { parseConfig } from '../../src/config/load.js';
import { DEFAULTS, HOST_KEYS, SSH_KEYS, TOP_KEYS } from '../../src/config/schema.js';
import { EXAMPLE_FILE, packageRoot, starterConfigText } from '../../src/config/starter.js';

const ROOT = packageRoot();
const FILE = join(ROOT, EXAMPLE_FILE);
const TEXT = readFileSync(FILE, 'utf8');
const OPTS = { home: '/home/u', defaultUser: 'u' };

// A YAML key at the start of a line, commented out or not: "key:", "- key:", "# - { key:".
// Prose comments are written so that they never start with "word:".
const KEY_AT_START = /^\s*(?:#\s*)?(?:-\s*)?(?:\{\s*)?([A-Za-z]+):(?:\s|$)/;

function documentedKeys(text: string): Set<string> {
  const keys = new Set<string>();
  for (const line of text.split('\n')) {
    const m = KEY_AT_START.exec(line);
    if (m) keys.add(m[1]!);
    for (const flow of line.matchAll(/\{([^}]*)\}/g)) for (const k of flow[1]!.matchAll(/([A-Za-z]+):\s/g)) keys.add(k[1]!);
  }
  return keys;
}

/** The example with every commented-out setting turned on. */
function uncommented(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const m = /^(\s*)# (.*)$/.exec(line);
      return m && /^(?:- )?(?:\{ )?[A-Za-z]+:\s|^- "/.test(m[2]!.trimStart()) ? m[1]! + m[2]! : line;
    })
    .join('\n');
}

test('chain.example.yaml parses, and its settings are the defaults', () => {
  const c = parseConfig(TEXT, FILE, OPTS);
  assert.equal(c.hosts.length, 3);
  assert.equal(c.interval, DEFAULTS.interval);
  assert.equal(c.ssh.connectTimeout, DEFAULTS.connectTimeout);
  assert.equal(c.ssh.knownHosts, '/home/u/.ssh/known_hosts');
  assert.deepEqual(c.exclude, DEFAULTS.exclude);
  assert.equal(c.delete, DEFAULTS.delete);
  assert.equal(c.trash, DEFAULTS.trash);
  assert.equal(c.conflicts, DEFAULTS.conflicts);
  assert.equal(c.bypass, DEFAULTS.bypass);
  assert.equal(c.state, DEFAULTS.state);
  assert.equal(c.ssh.user, 'u');
  assert.equal(c.metrics, undefined);
  assert.ok(c.hosts.every((h) => h.port === DEFAULTS.port));
});

test('chain.example.yaml documents every key the schema accepts, and no other', () => {
  const accepted = new Set<string>([...TOP_KEYS, ...SSH_KEYS, ...HOST_KEYS]);
  const documented = documentedKeys(TEXT);
  assert.deepEqual([...documented].filter((k) => !accepted.has(k)).sort(), [], 'documented but not accepted');
  assert.deepEqual([...accepted].filter((k) => !documented.has(k)).sort(), [], 'accepted but not documented');
});

test('the commented examples in chain.example.yaml are valid when uncommented', () => {
  const c = parseConfig(uncommented(TEXT), FILE, OPTS);
  assert.deepEqual(c.metrics, { host: '127.0.0.1', port: 9464 });
  assert.equal(c.ssh.user, 'chain');
  assert.equal(c.ssh.identity, '/home/u/.ssh/chain_ed25519');
  assert.deepEqual(c.exclude, ['*.tmp', '*.swp', 'cache/**']);
  const demeter = c.hosts.find((h) => h.name === 'demeter');
  assert.deepEqual(demeter && { ...demeter, line: 0 }, {
    name: 'demeter',
    address: 'demeter.example.net',
    port: 2222,
    user: 'deploy',
    identity: '/home/u/.ssh/demeter_ed25519',
    root: '/srv/images',
    state: '/srv/chain-state',
    receiver: '/opt/chain/bin/chain',
    line: 0,
  });
  assert.equal(c.receiver, 'chain');
  assert.equal(c.hosts.find((h) => h.name === 'apollo')?.receiver, 'chain', 'the top-level receiver, where a host does not override it');
  // every per-host key is shown overridden by the demeter example
  for (const k of HOST_KEYS) assert.match(TEXT, new RegExp(`^  #\\s+(- )?${k}: `, 'm'), k);
});

test('starterConfigText is chain.example.yaml, found from the package root', () => {
  assert.equal(starterConfigText(), TEXT);
  // the compiled layout (dist/src/config) and the bundle (dist/cli) find the same root
  assert.equal(packageRoot(join(ROOT, 'dist', 'src', 'config')), ROOT);
  assert.equal(packageRoot(join(ROOT, 'dist', 'cli')), ROOT);
});

test('an install without chain.example.yaml: chain init says what is missing and what to do', () => {
  const bare = mkdtempSync(join(tmpdir(), 'chain-bare-'));
  try {
    assert.throws(
      () => starterConfigText(bare),
      (err: unknown) =>
        err instanceof ChainError &&
        err.exitCode === EXIT.FAILED &&
        err.message.includes(join(bare, EXAMPLE_FILE)) &&
        /incomplete: reinstall the package, or copy chain\.example\.yaml/.test(err.hint ?? ''),
    );
  } finally {
    rmSync(bare, { recursive: true, force: true });
  }
});
