// LinkRunner over the local-filesystem Remote: what one link remembers when a path fails on its own
// inside a whole-tree compare (first start, first `chain push`), where no event names the path.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { getEventListeners } from 'node:events';
import { LocalRemote, localEntry } from '../../src/transport/local.js';
import type { PutOptions, PutSource } from '../../src/transport/remote.js';
import { LinkRunner } from '../../src/engine/runner.js';
import { Journal } from '../../src/engine/journal.js';
import { compileExclude } from '../../src/core/exclude.js';
import { silentLogger } from '../../src/core/log.js';
import { until } from '../support/tree.js';
import { Holds } from '../../src/engine/holds.js';
import { drainInbox, type HoldNotice } from '../../src/engine/inbox.js';

/** a target whose put fails for some paths the way a full disk or a bad mode does: that path only */
class Refusing extends LocalRemote {
  readonly refuse = new Set<string>();
  override async put(path: string, src: PutSource, opts: PutOptions): Promise<void> {
    if (this.refuse.has(path)) throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES' });
    return super.put(path, src, opts);
  }
}

let dir: string;
let a: string;
let b: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'chain-runner-'));
  a = join(dir, 'a');
  b = join(dir, 'b');
  mkdirSync(a);
  mkdirSync(b);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** a runner from a to b over the local Remote, with these options on top */
const localRunner = (extra: Partial<ConstructorParameters<typeof LinkRunner>[0]>) =>
  new LinkRunner({
    self: 'a',
    target: 'b',
    role: 'successor',
    source: new LocalRemote(a, 'a'),
    connect: async () => new LocalRemote(b, 'b'),
    intervalMs: 0,
    exclude: compileExclude([]),
    deleteEnabled: true,
    log: silentLogger,
    ...extra,
  });

/** to a given target, journaled, failed paths retried after 50 ms */
const runner = (target: LocalRemote, journalFile: string) => localRunner({ connect: async () => target, journalFile, retryFailedMs: 50 });

const pendingIn = (file: string) => {
  const j = new Journal(file);
  try {
    return j.pending().map((c) => c.path);
  } finally {
    j.close();
  }
};

test('startup compare: a path that failed on its own is journaled (survives a restart) and retried', async () => {
  writeFileSync(join(a, 'ok.txt'), 'ok\n');
  writeFileSync(join(a, 'refused.txt'), 'later\n');
  const target = new Refusing(b, 'b');
  target.refuse.add('refused.txt');
  const file = join(dir, 'queue', 'b.jsonl');
  const r = runner(target, file);
  try {
    await r.startupSync(new AbortController().signal);
    assert.ok(existsSync(join(b, 'ok.txt')));
    assert.ok(!existsSync(join(b, 'refused.txt')));
    assert.deepEqual(pendingIn(file), ['refused.txt'], 'the failed path is on disk: a restart before the retry still knows it');
    // the retry comes on its own, and then it is delivered and leaves the journal
    target.refuse.clear();
    await until(() => r.queue.pending === 1, 5000, 'the retry of refused.txt');
    assert.equal(await r.drain(), 'done');
    assert.equal(readFileSync(join(b, 'refused.txt'), 'utf8'), 'later\n');
    assert.deepEqual(pendingIn(file), []);
  } finally {
    await r.close();
  }
});

test('one-shot drain of a whole-tree compare: a path that failed is kept for the next run', async () => {
  writeFileSync(join(a, 'refused.txt'), 'next run\n');
  const target = new Refusing(b, 'b');
  target.refuse.add('refused.txt');
  const file = join(dir, 'queue', 'b.jsonl');
  const first = runner(target, file);
  first.queue.addReady([{ path: '', kind: 'change', since: Date.now(), at: Date.now(), tree: true, deep: true }]);
  assert.equal(await first.drain(), 'failed');
  await first.close();
  assert.deepEqual(pendingIn(file), ['refused.txt']);
  // the next run (a new process) finds it in the journal and delivers it
  target.refuse.clear();
  const next = runner(target, file);
  try {
    assert.equal(next.queue.pending, 1);
    assert.equal(await next.drain(), 'done');
    assert.equal(readFileSync(join(b, 'refused.txt'), 'utf8'), 'next run\n');
  } finally {
    await next.close();
  }
});

test('a running link keeps one abort listener at most, however many batches it pushes (no MaxListenersExceededWarning)', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  const r = runner(new LocalRemote(b, 'b'), join(dir, 'queue', 'b.jsonl'));
  const halt = new AbortController();
  const running = r.run(halt.signal, 0);
  try {
    for (let i = 0; i < 25; i++) {
      writeFileSync(join(a, `f${i}`), `${i}\n`);
      r.queue.addReady([{ path: `f${i}`, kind: 'change', since: Date.now(), at: Date.now() }]);
      await until(() => existsSync(join(b, `f${i}`)) && r.queue.pending === 0, 5000, `batch ${i}`);
    }
    // one per batch before: 25 listeners on the daemon's signal, and Node's warning after the 11th
    assert.ok(getEventListeners(halt.signal, 'abort').length <= 1, `${getEventListeners(halt.signal, 'abort').length} abort listeners after 25 batches`);
  } finally {
    halt.abort();
    await running;
    await r.close();
    process.off('warning', onWarning);
  }
  assert.deepEqual(warnings.filter((w) => /MaxListeners/.test(w)), []);
});

test('a new tree kept back by a hold goes once the hold lapses unannounced (no release manifest ever comes)', async () => {
  mkdirSync(join(a, 'up', 'new'), { recursive: true });
  for (const f of ['f1', 'f2', 'f3']) writeFileSync(join(a, 'up', 'new', f), `${f}\n`);
  let clock = 1_000_000;
  const holds = new Holds(5_000, () => clock);
  holds.update('c', { hold: ['up'] }); // the predecessor is writing under up/
  const r = localRunner({ holds });
  const halt = new AbortController();
  const running = r.run(halt.signal, 0);
  try {
    r.queue.addReady([{ path: 'up/new', kind: 'change', since: Date.now(), at: Date.now(), tree: true, deep: true }]);
    await until(() => r.queue.pending === 0, 5000, 'the batch to pass');
    assert.ok(!existsSync(join(b, 'up', 'new', 'f1')), 'sent on from inside a hold');
    // the sender stalls: its hold lapses, and something else notices first (no release, no tick)
    clock += 6_000;
    assert.equal(holds.covers('up/new'), false);
    assert.equal(holds.active, false);
    await until(() => ['f1', 'f2', 'f3'].every((f) => existsSync(join(b, 'up', 'new', f))), 5000, 'the kept tree to go after the lapse');
  } finally {
    halt.abort();
    await running.catch(() => {});
    await r.close();
  }
});

test('batches that follow each other at once keep one hold on the target: released after the last, not between', async () => {
  mkdirSync(join(a, 'up'));
  for (let i = 0; i < 50; i++) writeFileSync(join(a, 'up', `f${i}`), `${i}\n`);
  const r = localRunner({ batchSize: 20 });
  try {
    const now = Date.now();
    r.queue.addReady(Array.from({ length: 50 }, (_, i) => ({ path: `up/f${i}`, kind: 'change' as const, since: now, at: now })));
    assert.equal(await r.drain(), 'done');
    assert.ok(existsSync(join(b, 'up', 'f49')));
    const notices: HoldNotice[] = [];
    await drainInbox(b, undefined, (_from, n) => notices.push(n));
    assert.deepEqual(notices[0], { hold: ['up'] }, 'the first batch holds up/');
    assert.equal(notices.filter((n) => n.release).length, 1, 'one release for the three batches');
    assert.deepEqual(notices.at(-1), { release: true }, 'the last manifest releases it');
  } finally {
    await r.close();
  }
});

test('a file that arrived and was deleted here within one window: the delete goes on (create and delete do not cancel out)', async () => {
  // b is the predecessor that wrote up/f here (a) and the target of this link (a 2-host ring)
  mkdirSync(join(a, 'up'));
  mkdirSync(join(b, 'up'));
  writeFileSync(join(a, 'up', 'f'), 'from b\n');
  writeFileSync(join(b, 'up', 'f'), 'from b\n');
  const entry = await localEntry(join(a, 'up', 'f'));
  const r = localRunner({ intervalMs: 60_000 });
  try {
    const now = Date.now();
    r.queue.addReady([{ path: 'up/f', kind: 'change', since: now, at: now, arrived: { entry, hops: 0, origin: 'b' } }]);
    assert.equal(await r.drain(), 'done');
    assert.ok(existsSync(join(b, 'up', 'f')), 'the arrival is not sent back');
    // our watcher: the predecessor's write, then a local delete, in the same window
    rmSync(join(a, 'up', 'f'));
    r.queue.addEvents([
      { kind: 'create', path: 'up/f', at: now },
      { kind: 'delete', path: 'up/f', at: Date.now() },
    ]);
    assert.equal(r.queue.pending, 1, 'the delete waits in the window');
    assert.equal(await r.drain(), 'done');
    assert.ok(!existsSync(join(b, 'up', 'f')), 'deleted on the target too');
  } finally {
    await r.close();
  }
});
