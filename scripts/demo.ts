// npm run demo: a local 3-host ring on loopback sshd (one sshd, host key, port and root per host),
// `chain watch` on each, files written on one host shown arriving on the others; then everything
// this script started is stopped and its temp dir removed.
import { mkdirSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startHosts } from '../test/support/sshd.js';
import { chain, spawnChain, type Daemon } from '../test/support/chain.js';
import { ringDiff, snapshot, until } from '../test/support/tree.js';

// bold only on a terminal (NO_COLOR honoured): a log or a pipe gets plain text
const bold = process.stdout.isTTY && !process.env.NO_COLOR ? (s: string) => `\x1b[1m${s}\x1b[0m` : (s: string) => s;
const say = (s: string) => process.stdout.write(`\n${bold(`== ${s}`)}\n`);

async function main() {
  say('starting 3 sshd hosts on 127.0.0.1 (own host key, port and root each)');
  const ring = await startHosts(3);
  const daemons: Daemon[] = [];
  const cleanup = async () => {
    for (const d of daemons) await d.stop('SIGTERM').catch(() => {});
    await ring.stop();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const cfg = ring.writeConfig({ interval: '500ms' }, join(ring.dir, 'chain.yaml'));
    for (const h of ring.hosts) console.log(`  ${h.name}: 127.0.0.1:${h.port}  root ${h.root}`);
    console.log(`  config: ${cfg}\n${readFileSync(cfg, 'utf8').replace(/^/gm, '    ')}`);

    say('chain check');
    const c = await chain(['--config', cfg, 'check']);
    process.stdout.write(c.stdout + c.stderr);
    if (c.exitCode !== 0) throw new Error(`chain check exited ${c.exitCode}`);

    say('chain watch on each host');
    for (const h of ring.hosts) {
      const d = spawnChain(['--config', cfg, '--host', h.name, 'watch']);
      daemons.push(d);
      d.proc.all?.on('data', (b: Buffer) => process.stdout.write(b.toString().replace(/^(?=.)/gm, `  [${h.name}] `)));
    }
    await Promise.all(daemons.map((d) => d.waitFor(/watching /)));

    const [h1, h2, h3] = ring.hosts;
    const roots = ring.hosts.map((h) => h.root);
    say(`writing 100 files on ${h1.name}`);
    const t0 = Date.now();
    for (let i = 0; i < 100; i++) {
      mkdirSync(join(h1.root, `uploads/${i % 5}`), { recursive: true });
      writeFileSync(join(h1.root, `uploads/${i % 5}/photo-${i}.jpg`), `picture ${i}\n`.repeat(100));
    }
    await until(() => existsSync(join(h3.root, 'uploads/4/photo-99.jpg')) && ringDiff(roots).length === 0, 60_000, 'convergence');
    console.log(`  all 100 files on ${h2.name} and ${h3.name} after ${((Date.now() - t0) / 1000).toFixed(2)}s`);

    say(`editing a file on ${h2.name}, deleting one on ${h3.name}`);
    const t1 = Date.now();
    writeFileSync(join(h2.root, 'uploads/0/photo-0.jpg'), 'edited on host2\n');
    rmSync(join(h3.root, 'uploads/1/photo-1.jpg'));
    await until(
      () => readFileSync(join(h1.root, 'uploads/0/photo-0.jpg'), 'utf8').startsWith('edited') && !existsSync(join(h1.root, 'uploads/1/photo-1.jpg')) && ringDiff(roots).length === 0,
      60_000,
      'second convergence',
    );
    console.log(`  every host agrees after ${((Date.now() - t1) / 1000).toFixed(2)}s: ${snapshot(h1.root).size} entries each`);
    say('stopping the daemons (SIGTERM) and the sshd hosts');
  } finally {
    await cleanup();
  }
  console.log('done: nothing left running');
}

main().catch((e) => {
  console.error(`demo failed: ${(e as Error).message}`);
  process.exit(1);
});
