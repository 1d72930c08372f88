// bin/chain is both a shell script and an ES module: run as a command, its shell line starts node
// on it without NODE_EXTRA_CA_CERTS (node builds its whole TLS root store at start-up when that is
// set; chain makes no TLS connection); run as `node bin/chain`, it is the module. A missing
// certificate file is how a test sees whether node looked at the variable: node warns about it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { BIN } from '../support/chain.js';

const VERSION = (JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
const env = { ...process.env, NODE_EXTRA_CA_CERTS: join(tmpdir(), 'chain-no-such-dir', 'ca.pem') };

const cases: { name: string; run: (dir: string) => [string, string[]] }[] = [
  { name: 'as a command', run: () => [BIN, ['--version']] },
  { name: 'through a symlink elsewhere (as npm installs it)', run: (dir) => {
    const link = join(dir, 'chain');
    symlinkSync(BIN, link);
    return [link, ['--version']];
  } },
];

for (const c of cases) {
  test(`bin/chain ${c.name}: runs without node reading NODE_EXTRA_CA_CERTS`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'chain-launcher-'));
    try {
      const [cmd, args] = c.run(dir);
      const r = spawnSync(cmd, args, { env, encoding: 'utf8', cwd: dir });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), VERSION);
      assert.equal(r.stderr, '', 'node warned about the certificate file: it read NODE_EXTRA_CA_CERTS');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('node bin/chain: the same file runs as a module (node skips the hashbang; the shell line is an expression)', () => {
  const r = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), VERSION);
});
