// Issue 3, item 7: SIGHUP rebuilds the ring from the config file, without a restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { startHosts, type Ring } from '../support/sshd.js';
import { spawnChain, type Daemon } from '../support/chain.js';
import { until } from '../support/tree.js';

let ring: Ring;
const daemons: Daemon[] = [];
before(async () => {
  ring = await startHosts(3);
});
after(async () => {
  for (const d of daemons) await d.stop('SIGKILL').catch(() => {});
  await ring?.stop();
});

test('SIGHUP: a host removed from the ring is skipped from then on, without a restart', { timeout: 180_000 }, async () => {
  const cfg = ring.writeConfig({ interval: '300ms' }, join(ring.dir, 'reload.yaml'));
  const [h1, h2, h3] = ring.hosts;
  for (const h of [h1, h3]) daemons.push(spawnChain(['--config', cfg, '--host', h.name, 'watch']));
  await Promise.all(daemons.map((d) => d.waitFor(/watching /)));
  const [d1, d3] = daemons;
  assert.match(d1.log(), /pushing to host2/);

  // host2 leaves the ring: edit the file, then SIGHUP the daemons
  const doc = parseDocument(readFileSync(cfg, 'utf8'));
  const hosts = doc.get('hosts') as { items: unknown[] };
  hosts.items.splice(1, 1);
  writeFileSync(cfg, doc.toString());
  d1.proc.kill('SIGHUP');
  d3.proc.kill('SIGHUP');
  await d1.waitFor(/reloaded .*pushing to host3/);

  writeFileSync(join(h1.root, 'after-reload.txt'), 'straight to host3\n');
  await until(() => existsSync(join(h3.root, 'after-reload.txt')), 30_000, 'the file on host3');
  assert.ok(!existsSync(join(h2.root, 'after-reload.txt')), 'host2 is out of the ring');

  // a bad config on SIGHUP is refused and the running ring keeps working
  writeFileSync(cfg, 'root: relative/path\n');
  d1.proc.kill('SIGHUP');
  await d1.waitFor(/reload failed, keeping the running config/);
  writeFileSync(join(h1.root, 'still-working.txt'), 'yes\n');
  await until(() => existsSync(join(h3.root, 'still-working.txt')), 30_000, 'the ring still working after a bad reload');
});
