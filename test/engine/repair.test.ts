// The repair runner over local-filesystem Remotes (one directory per "host"): converging, re-planning
// a path that changes under it, a host that stops answering, the trash, the lock. Faults are
// injected by wrapping a working LocalRemote and overriding one method.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, utimesSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { LocalRemote } from '../../src/transport/local.js';
import type { FileReader, PutOptions, Remote } from '../../src/transport/remote.js';
import { runRepair, type RepairOptions } from '../../src/engine/repair.js';
import { acquireHostLock } from '../../src/engine/lock.js';
import { compileExclude } from '../../src/core/exclude.js';
import { silentLogger } from '../../src/core/log.js';
import { TRASH_DIR } from '../../src/core/names.js';
import { ringDiff, snapshot } from '../support/tree.js';

let dir: string;
let roots: string[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'chain-repair-'));
  roots = ['h1', 'h2', 'h3'].map((n) => join(dir, n));
  for (const r of roots) mkdirSync(r);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const put = (root: string, rel: string, data: string, mtime: number) => {
  const p = join(root, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, data);
  utimesSync(p, mtime, mtime);
};

function opts(remotes: (() => Remote)[], over: Partial<RepairOptions> = {}): RepairOptions {
  return {
    hosts: remotes.map((mk, i) => ({ name: `h${i + 1}`, connect: async () => mk() })),
    mode: { kind: 'ring' },
    delete: false,
    conflicts: 'newer',
    dryRun: false,
    exclude: compileExclude([]),
    log: silentLogger,
    owner: 'test',
    ...over,
  };
}
const locals = () => roots.map((r, i) => () => new LocalRemote(r, `h${i + 1}`));

function seed(): void {
  for (const r of roots) {
    put(r, 'a.txt', 'a0', 1000);
    put(r, 'd/b.txt', 'b0', 1000);
  }
  put(roots[0]!, 'a.txt', 'a1 newer', 2000);
  put(roots[1]!, 'n.txt', 'new on h2', 1500);
}

test('repair converges the hosts; a second run has nothing to do; no lock is left', async () => {
  seed();
  const out = await runRepair(opts(locals()));
  assert.equal(out.code, 0, JSON.stringify(out.failed));
  assert.deepEqual(ringDiff(roots), []);
  assert.equal(readFileSync(join(roots[2]!, 'a.txt'), 'utf8'), 'a1 newer');
  const again = await runRepair(opts(locals()));
  assert.equal(again.plan?.differing, 0);
  for (const r of roots) assert.ok(!existsSync(join(r, '.chain', 'lock')));
});

test('dry run: the plan, no lock, nothing changed', async () => {
  seed();
  const before = roots.map(snapshot);
  const out = await runRepair(opts(locals(), { dryRun: true }));
  assert.equal(out.code, 0);
  assert.ok(out.plan!.differing >= 2);
  assert.deepEqual(roots.map(snapshot), before);
  for (const r of roots) assert.ok(!existsSync(join(r, '.chain')));
});

test('a file changed on the target between listing and replacing is planned again; the newer change wins', async () => {
  seed();
  let meddled = false;
  class Meddling extends LocalRemote {
    override async putFrom(path: string, src: FileReader, o: PutOptions): Promise<void> {
      if (path === 'a.txt' && !meddled) {
        meddled = true;
        put(roots[2]!, 'a.txt', 'edited on h3 meanwhile', 3000); // a writer on h3, right now
      }
      return super.putFrom(path, src, o);
    }
  }
  const out = await runRepair(opts([...locals().slice(0, 2), () => new Meddling(roots[2]!, 'h3')]));
  assert.ok(meddled);
  assert.equal(out.code, 0, JSON.stringify(out));
  assert.equal(out.rounds, 2, 'planned again once');
  assert.deepEqual(ringDiff(roots), []);
  for (const r of roots) assert.equal(readFileSync(join(r, 'a.txt'), 'utf8'), 'edited on h3 meanwhile');
});

test('a source changed while read is planned again, never sent torn', async () => {
  seed();
  let changed = false;
  class Changing extends LocalRemote {
    override async openRead(path: string, expect: import('../../src/core/types.js').Entry): Promise<FileReader> {
      const r = await super.openRead(path, expect);
      if (path === 'a.txt' && !changed) {
        changed = true;
        put(roots[0]!, 'a.txt', 'a2 rewritten while read', 4000);
      }
      return r;
    }
  }
  const out = await runRepair(opts([() => new Changing(roots[0]!, 'h1'), ...locals().slice(1)]));
  assert.equal(out.code, 0, JSON.stringify(out));
  assert.deepEqual(ringDiff(roots), []);
  for (const r of roots) assert.equal(readFileSync(join(r, 'a.txt'), 'utf8'), 'a2 rewritten while read');
});

test('a host that stops answering: exit 3, the others repaired among themselves', async () => {
  seed();
  const lost = Object.assign(new Error('h3: the SFTP connection closed'), { retryable: true, kind: 'connection-lost' });
  class Dying extends LocalRemote {
    override async putFrom(): Promise<void> {
      throw lost;
    }
  }
  const out = await runRepair(opts([...locals().slice(0, 2), () => new Dying(roots[2]!, 'h3')]));
  assert.equal(out.code, 3);
  assert.equal(out.hosts[2]!.state, 'down');
  assert.deepEqual(ringDiff(roots.slice(0, 2)), []);
});

test('the only holder of the newest version stops answering: the rest settle on the best they have', async () => {
  for (const r of roots) put(r, 'x.txt', 'x0', 1000);
  put(roots[1]!, 'x.txt', 'x1', 2000);
  put(roots[2]!, 'x.txt', 'x2 newest', 3000);
  const lost = Object.assign(new Error('h3: connection lost'), { retryable: true, kind: 'connection-lost' });
  class Dying extends LocalRemote {
    override async openRead(): Promise<FileReader> {
      throw lost;
    }
  }
  const out = await runRepair(opts([...locals().slice(0, 2), () => new Dying(roots[2]!, 'h3')]));
  assert.equal(out.code, 3);
  assert.deepEqual(ringDiff(roots.slice(0, 2)), []);
  assert.equal(readFileSync(join(roots[0]!, 'x.txt'), 'utf8'), 'x1');
});

test('with trash on, what --delete removes and what a copy replaces is kept in the target trash', async () => {
  seed();
  put(roots[1]!, 'old.txt', 'only on h2', 1000);
  const out = await runRepair(opts(locals(), { mode: { kind: 'link', source: 0, target: 1 }, delete: true, trash: true }));
  assert.equal(out.code, 0);
  assert.ok(!existsSync(join(roots[1]!, 'old.txt')));
  const days = readdirSync(join(roots[1]!, TRASH_DIR));
  assert.equal(days.length, 1);
  const day = join(roots[1]!, TRASH_DIR, days[0]!);
  assert.equal(readFileSync(join(day, 'old.txt'), 'utf8'), 'only on h2');
  assert.equal(readFileSync(join(day, 'a.txt'), 'utf8'), 'a0', 'the replaced version');
  assert.deepEqual(ringDiff([roots[0]!, roots[1]!]), []);
});

test('a host locked by someone else: exit 75 with the holder, nothing changed, our other locks released', async () => {
  seed();
  const held = await acquireHostLock(new LocalRemote(roots[1]!, 'h2'), { host: 'other', command: 'repair' });
  assert.ok(held.lock);
  const before = roots.map(snapshot);
  const out = await runRepair(opts(locals()));
  assert.equal(out.code, 75);
  assert.equal(out.busy?.host, 'h2');
  assert.equal(out.busy?.holder.host, 'other');
  assert.deepEqual(roots.map(snapshot), before);
  assert.ok(!existsSync(join(roots[0]!, '.chain', 'lock')) && !existsSync(join(roots[2]!, '.chain', 'lock')));
  await held.lock.release();
});

test('a slow host: the others are listed while it connects; still nothing changes anywhere when it turns out locked', async () => {
  seed();
  const held = await acquireHostLock(new LocalRemote(roots[1]!, 'h2'), { host: 'other', command: 'repair' });
  const events: string[] = [];
  const o = opts(locals());
  o.hosts[0]!.connect = async () => {
    const r = new LocalRemote(roots[0]!, 'h1');
    const walk = r.walk.bind(r);
    r.walk = (onEntry) => (events.push('h1 listing'), walk(onEntry));
    return r;
  };
  o.hosts[1]!.connect = async () => {
    await new Promise((r) => setTimeout(r, 200));
    events.push('h2 connected');
    return new LocalRemote(roots[1]!, 'h2');
  };
  const before = roots.map(snapshot);
  const out = await runRepair(o);
  assert.equal(out.code, 75);
  assert.equal(out.busy?.host, 'h2');
  assert.deepEqual(events, ['h1 listing', 'h2 connected']);
  assert.deepEqual(roots.map(snapshot), before);
  assert.ok(!existsSync(join(roots[0]!, '.chain', 'lock')) && !existsSync(join(roots[2]!, '.chain', 'lock')));
  await held.lock!.release();

  // and without the lock, the same slow host is repaired with the others
  const again = await runRepair(o);
  assert.equal(again.code, 0);
  assert.deepEqual(ringDiff(roots), []);
});

test('a host is listed while its lock is taken; nothing changes before every lock is held; a lock that fails leaves that host out', async () => {
  seed();
  const events: string[] = [];
  let locked = 0;
  const o = opts(locals());
  const slowLock = (fail: boolean) => async () => {
    const r = new LocalRemote(roots[1]!, 'h2');
    const create = r.createExclusive.bind(r);
    r.createExclusive = async (path, data) => {
      events.push('h2 locking');
      await new Promise((res) => setTimeout(res, 400)); // (long enough for the listing to have begun, even on a loaded machine)
      if (fail) throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
      const got = await create(path, data);
      locked = Date.now();
      events.push('h2 locked');
      return got;
    };
    const walk = r.walk.bind(r);
    r.walk = (onEntry) => (events.push('h2 listing'), walk(onEntry));
    return r;
  };
  // every change on any host (a copy lands with putFrom) comes after h2's lock
  const changedAt: number[] = [];
  for (const h of [0, 2]) {
    o.hosts[h]!.connect = async () => {
      const r = new LocalRemote(roots[h]!, `h${h + 1}`);
      const putFrom = r.putFrom.bind(r);
      r.putFrom = (path: string, src: FileReader, po: PutOptions) => (changedAt.push(Date.now()), putFrom(path, src, po));
      return r;
    };
  }
  o.hosts[1]!.connect = slowLock(false);
  const out = await runRepair(o);
  assert.equal(out.code, 0);
  assert.deepEqual(events, ['h2 locking', 'h2 listing', 'h2 locked']);
  assert.ok(changedAt.length > 0 && changedAt.every((t) => t >= locked), 'a change before the last lock was held');
  assert.deepEqual(ringDiff(roots), []);

  // the same, its lock failing: h2 is left out (exit 3), the others repaired among themselves
  put(roots[0]!, 'a.txt', 'a2 newest', 3000);
  const h2Before = snapshot(roots[1]!);
  events.length = 0;
  o.hosts[1]!.connect = slowLock(true);
  const partial = await runRepair(o);
  assert.equal(partial.code, 3);
  assert.equal(partial.hosts[1]!.state, 'unreachable');
  assert.match(partial.hosts[1]!.error ?? '', /ECONNRESET/);
  assert.deepEqual(ringDiff([roots[0]!, roots[2]!]), []);
  assert.deepEqual(snapshot(roots[1]!), h2Before);
});

test('an unreachable host at connect: exit 3; an empty host stops a whole-ring repair (exit 1)', async () => {
  seed();
  const down = async () => {
    throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  };
  const o = opts(locals());
  o.hosts[2]!.connect = down;
  const out = await runRepair(o);
  assert.equal(out.code, 3);
  assert.equal(out.hosts[2]!.state, 'unreachable');
  assert.deepEqual(ringDiff(roots.slice(0, 2)), []);

  rmSync(roots[2]!, { recursive: true });
  mkdirSync(roots[2]!);
  const stop = await runRepair(opts(locals()));
  assert.equal(stop.code, 1);
  assert.equal(stop.stop?.reason, 'root-empty');
  // nothing but chain's own .chain/ (where the lock was), and no lock left there
  assert.deepEqual(readdirSync(roots[2]!), ['.chain']);
  assert.ok(!existsSync(join(roots[2]!, '.chain', 'lock')));
});

test('listed directory by directory (a Remote without walk, as over SFTP): the same result', async () => {
  seed();
  put(roots[2]!, 'deep/er/still/f.txt', 'deep', 1200);
  class NoWalk extends LocalRemote {
    override async walk(): Promise<boolean> {
      return false;
    }
  }
  const out = await runRepair(opts(roots.map((r, i) => () => new NoWalk(r, `h${i + 1}`))));
  assert.equal(out.code, 0, JSON.stringify(out.failed));
  assert.deepEqual(ringDiff(roots), []);
  assert.equal(readFileSync(join(roots[0]!, 'deep/er/still/f.txt'), 'utf8'), 'deep');
});
