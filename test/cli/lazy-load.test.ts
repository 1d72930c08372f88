// A command loads only what it uses: `watch` without metrics on a non-TTY never loads ora,
// prom-client nor another command's module, and --version loads no command at all. Each of those
// is start-up time for every command and resident memory for every daemon. bin/chain runs the
// bundle (dist/cli/): a chunk it loads stands for the modules esbuild put in it (dist/cli.meta.json).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { join, dirname, relative, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { chain, spawnChain } from '../support/chain.js';
import { startHosts, type Ring } from '../support/sshd.js';

const HOOK = join(dirname(fileURLToPath(import.meta.url)), '..', 'support', 'trace-imports.mjs');
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const wrap = [process.execPath, '--import', HOOK];
let ring: Ring;
let dir: string;

before(async () => {
  ring = await startHosts(2);
  dir = mkdtempSync(join(tmpdir(), 'chain-lazy-'));
});
after(async () => {
  await ring?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Meta {
  outputs: Record<string, { inputs: Record<string, unknown> }>;
}

/** the modules loaded: every URL resolved, and for a chunk of the bundle the modules in it */
function loaded(file: string): string[] {
  const urls = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  const meta = JSON.parse(readFileSync(join(ROOT, 'dist', 'cli.meta.json'), 'utf8')) as Meta;
  return urls.flatMap((url) => {
    if (!url.startsWith('file:')) return [url];
    const path = fileURLToPath(url);
    const chunk = meta.outputs[relative(ROOT, path)];
    return [path, ...Object.keys(chunk?.inputs ?? {}).map((m) => resolve(ROOT, m))];
  });
}
const has = (mods: string[], part: string) => mods.some((m) => m.includes(part));

test('chain --version loads no command module and no dependency but yargs', async () => {
  const trace = join(dir, 'version.txt');
  const r = await chain(['--version'], { wrap, env: { TRACE_IMPORTS: trace } });
  assert.equal(r.exitCode, 0, r.stderr);
  const mods = loaded(trace);
  assert.ok(has(mods, '/dist/cli/main.js') && has(mods, '/dist/src/cli/main.js'), `the trace works: ${mods.length} modules`);
  for (const part of ['/cli/commands/', '/node_modules/ora/', '/node_modules/prom-client/', '/node_modules/ssh2/', '/node_modules/zod/', '/node_modules/yaml/']) {
    assert.ok(!has(mods, part), `--version loaded ${part}`);
  }
});

test('chain watch without metrics, not on a TTY: no ora, no prom-client, no other command', async () => {
  const trace = join(dir, 'watch.txt');
  const cfg = ring.writeConfig({ interval: '200ms' }, join(dir, 'chain.yaml'));
  const d = spawnChain(['--config', cfg, '--host', 'host1', 'watch'], { wrap, env: { TRACE_IMPORTS: trace } });
  try {
    await d.waitFor(/watching /);
  } finally {
    assert.equal(await d.stop('SIGTERM'), 0, d.log());
  }
  const mods = loaded(trace);
  assert.ok(has(mods, '/cli/commands/watch.js') && has(mods, '/node_modules/@parcel/watcher/'), `the trace works: ${mods.length} modules`);
  for (const part of ['/node_modules/ora/', '/node_modules/prom-client/', '/engine/metrics.js', '/cli/commands/repair.js', '/cli/commands/check.js', '/node_modules/fast-glob/']) {
    assert.ok(!has(mods, part), `watch loaded ${part}`);
  }
});

test('chain status (local) connects nowhere: ssh2 is not loaded', async () => {
  const trace = join(dir, 'status.txt');
  const cfg = ring.writeConfig({}, join(dir, 'status.yaml'));
  await chain(['--config', cfg, '--host', 'host1', 'status'], { wrap, env: { TRACE_IMPORTS: trace } });
  const mods = loaded(trace);
  assert.ok(has(mods, '/cli/commands/status.js'), `the trace works: ${mods.length} modules`);
  assert.ok(!has(mods, '/node_modules/ssh2/'), 'status loaded ssh2');
});
