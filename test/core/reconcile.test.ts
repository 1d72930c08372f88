// reconcile(): N trees → a repair plan, table by table. Each case names its trees (fixtures below),
// the options, and what each host must do, written as short strings:
//   "copy PATH <- HOSTS"  "mkdir PATH"  "symlink PATH"  "setattr PATH"  "remove PATH (N)"  "keep PATH -> TO"
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/core/types.js';
import { Listings } from '../../src/core/listings.js';
import { reconcile, type ReconcileOptions, type RepairAction, type SafetyStop } from '../../src/core/reconcile.js';
import { conflictName } from '../../src/core/conflict.js';

// ---- fixtures ---------------------------------------------------------------------------------

const F = (mtime: number, size = 10, mode = 0o644): Entry => ({ type: 'file', size, mtime, mode });
const D = (mtime = 100, mode = 0o755): Entry => ({ type: 'dir', size: 4096, mtime, mode });
const L = (target: string, mtime = 100): Entry => ({ type: 'symlink', size: target.length, mtime, mode: 0o777, target });
const FIFO: Entry = { type: 'other', size: 0, mtime: 100, mode: 0o644 };
type Tree = Record<string, Entry>;

/** the tree every host had before the outage */
const base: Tree = { 'a.txt': F(100), docs: D(100), 'docs/r.md': F(100), 'docs/img': D(100), 'docs/img/p.jpg': F(100, 5000) };
/** t without the drop paths (and what is under them), then with more */
const withf = (t: Tree, more: Tree, drop: string[] = []): Tree => {
  const out = { ...t };
  for (const d of drop) for (const k of Object.keys(out)) if (k === d || k.startsWith(d + '/')) delete out[k];
  return { ...out, ...more };
};

const HOSTS = ['host1', 'host2', 'host3'];
const ring: Pick<ReconcileOptions, 'mode' | 'delete' | 'conflicts'> = { mode: { kind: 'ring' }, delete: false, conflicts: 'newer' };

function show(a: RepairAction): string {
  switch (a.op) {
    case 'copy':
      // (sources are rotated per path to spread the reads; the set is what matters here)
      return `copy ${a.path} <- ${a.from.map((h) => HOSTS[h]).sort().join(',')}`;
    case 'remove':
      return `remove ${a.path} (${a.gone})`;
    case 'keep':
      return `keep ${a.path} -> ${a.to}`;
    default:
      return `${a.op} ${a.path}`;
  }
}

interface Case {
  name: string;
  trees: Tree[];
  opts?: Partial<ReconcileOptions>;
  /** per host, the actions in order; hosts not named must do nothing */
  expect?: Record<string, string[]>;
  stop?: SafetyStop['reason'];
  check?: (r: ReturnType<typeof reconcile>) => void;
}

function run(c: Case): ReturnType<typeof reconcile> {
  const hosts = HOSTS.slice(0, c.trees.length);
  const l = Listings.fromMaps(hosts, c.trees.map((t) => new Map(Object.entries(t))));
  return reconcile(l, { ...ring, ...c.opts });
}

const cases: Case[] = [
  { name: 'identical trees: nothing to do', trees: [base, base, base], expect: {} },
  {
    name: 'a file created on one host goes to the others, read from that host',
    trees: [withf(base, { 'new.txt': F(200) }), base, base],
    expect: { host2: ['copy new.txt <- host1'], host3: ['copy new.txt <- host1'] },
  },
  {
    name: 'a new directory with content is made, then filled',
    trees: [base, base, withf(base, { up: D(200), 'up/a': F(200), 'up/b': L('a') })],
    expect: { host1: ['mkdir up', 'copy up/a <- host3', 'symlink up/b'], host2: ['mkdir up', 'copy up/a <- host3', 'symlink up/b'] },
  },
  {
    name: 'an edit wins over the stale copies; every holder of the winner is a source, never a stale host',
    trees: [withf(base, { 'a.txt': F(300, 11) }), withf(base, { 'a.txt': F(300, 11) }), base],
    expect: { host3: ['copy a.txt <- host1,host2'] },
  },
  {
    name: 'edited on two hosts: the newer edit wins everywhere (conflicts: newer)',
    trees: [withf(base, { 'a.txt': F(200, 12) }), withf(base, { 'a.txt': F(300, 13) }), base],
    expect: { host1: ['copy a.txt <- host2'], host3: ['copy a.txt <- host2'] },
  },
  {
    name: 'edited on two hosts, conflicts: keep — the other edit is kept everywhere, the stale original is not',
    trees: [withf(base, { 'a.txt': F(200, 12) }), withf(base, { 'a.txt': F(300, 13) }), base],
    opts: { conflicts: 'keep' },
    expect: {
      host1: [`keep a.txt -> ${conflictName('a.txt', 'host1', 200)}`, 'copy a.txt <- host2'],
      host2: [`copy ${conflictName('a.txt', 'host1', 200)} <- host1`],
      host3: ['copy a.txt <- host2', `copy ${conflictName('a.txt', 'host1', 200)} <- host1`],
    },
    check: (r) => assert.equal(r.plan.conflicts, 1),
  },
  {
    name: 'conflicts: keep, one host merely behind: no conflict copy',
    trees: [withf(base, { 'a.txt': F(300, 13) }), base, base],
    opts: { conflicts: 'keep' },
    expect: { host2: ['copy a.txt <- host1'], host3: ['copy a.txt <- host1'] },
  },
  {
    name: 'conflicts: keep, created on two hosts at once (a host lacks it): the loser is kept',
    trees: [withf(base, { 'n.txt': F(200, 1) }), withf(base, { 'n.txt': F(300, 2) }), base],
    opts: { conflicts: 'keep' },
    expect: {
      host1: [`keep n.txt -> ${conflictName('n.txt', 'host1', 200)}`, 'copy n.txt <- host2'],
      host2: [`copy ${conflictName('n.txt', 'host1', 200)} <- host1`],
      host3: ['copy n.txt <- host2', `copy ${conflictName('n.txt', 'host1', 200)} <- host1`],
    },
  },
  {
    name: 'conflicts: keep is ignored with a source (the operator said who is right)',
    trees: [withf(base, { 'n.txt': F(200, 1) }), withf(base, { 'n.txt': F(300, 2) }), base],
    opts: { conflicts: 'keep', mode: { kind: 'from', source: 0 } },
    expect: { host2: ['copy n.txt <- host1'], host3: ['copy n.txt <- host1'] },
  },
  {
    name: 'same mtime: the larger file wins',
    trees: [withf(base, { 'a.txt': F(300, 20) }), withf(base, { 'a.txt': F(300, 30) }), withf(base, { 'a.txt': F(300, 20) })],
    expect: { host1: ['copy a.txt <- host2'], host3: ['copy a.txt <- host2'] },
  },
  {
    name: 'same content, different mode: the higher mode wins, by setattr',
    trees: [withf(base, { 'a.txt': F(100, 10, 0o600) }), base, base],
    expect: { host1: ['setattr a.txt'] },
  },
  {
    name: 'directory modes differ: the directory changed last gives its mode',
    trees: [withf(base, { docs: D(100, 0o700), 'docs/n': F(400) }), base, base],
    expect: { host2: ['setattr docs', 'copy docs/n <- host1'], host3: ['setattr docs', 'copy docs/n <- host1'] },
  },
  {
    name: 'a directory replaced by a file, newer than everything in it: the file wins, the tree goes',
    trees: [base, withf(base, { docs: F(500, 7) }, ['docs']), base],
    expect: { host1: ['copy docs <- host2'], host3: ['copy docs <- host2'] },
    check: (r) => {
      assert.equal(r.plan.hosts[0]!.counts.remove, 3, 'docs/r.md, docs/img, docs/img/p.jpg go');
      assert.equal(r.plan.deletes, 6);
    },
  },
  {
    name: 'a directory replaced by a file, but something inside changed later elsewhere: the directory wins',
    trees: [base, withf(base, { docs: F(500, 7) }, ['docs']), withf(base, { 'docs/img/p.jpg': F(600, 5001) })],
    expect: {
      host1: ['copy docs/img/p.jpg <- host3'],
      host2: ['mkdir docs', 'mkdir docs/img', 'copy docs/img/p.jpg <- host3', 'copy docs/r.md <- host1,host3'],
    },
  },
  {
    name: 'a file against a directory at the same time: the directory wins',
    trees: [{ x: D(100), 'x/y': F(50) }, { x: F(100) }],
    expect: { host2: ['mkdir x', 'copy x/y <- host1'] },
  },
  {
    name: 'symlinks with different targets: the newer link wins; on a tie the greater target',
    trees: [{ l: L('a', 100), m: L('a', 100) }, { l: L('b', 200), m: L('b', 100) }],
    expect: { host1: ['symlink l', 'symlink m'] },
  },
  {
    name: '--from: the source wins even when older; what it lacks stays without --delete',
    trees: [withf(base, { 'a.txt': F(50, 3) }), withf(base, { 'a.txt': F(300), 'extra.txt': F(300) }), base],
    opts: { mode: { kind: 'from', source: 0 } },
    expect: { host2: ['copy a.txt <- host1'], host3: ['copy a.txt <- host1'] },
    check: (r) => assert.equal(r.plan.keptOnTargets, 1),
  },
  {
    name: '--from --delete: what the source lacks is removed, a directory with what is in it',
    trees: [withf(base, {}, ['docs']), base, withf(base, { 'extra.txt': F(300) })],
    opts: { mode: { kind: 'from', source: 0 }, delete: true },
    expect: { host2: ['remove docs (4)'], host3: ['remove docs (4)', 'remove extra.txt (1)'] },
    check: (r) => assert.equal(r.plan.deletes, 9),
  },
  {
    name: '--link A:B: only B changes; a third host is not read',
    trees: [withf(base, { 'n.txt': F(200) }), withf(base, { 'm.txt': F(200) }), withf(base, { 'a.txt': F(999) })],
    opts: { mode: { kind: 'link', source: 0, target: 1 }, delete: true },
    expect: { host2: ['remove m.txt (1)', 'copy n.txt <- host1'] },
  },
  {
    name: 'a file the source holds replaces a directory on the target',
    trees: [{ x: F(100) }, { x: D(300), 'x/y': F(300), 'x/z': D(300), 'x/z/w': F(300) }],
    opts: { mode: { kind: 'link', source: 0, target: 1 } },
    expect: { host2: ['copy x <- host1'] },
    check: (r) => assert.equal(r.plan.deletes, 3),
  },
  {
    name: 'an unreachable host is left out: its newer version is not used, nothing is planned for it',
    trees: [base, withf(base, { 'a.txt': F(900) }), withf(base, { 'n.txt': F(200) })],
    opts: { live: [true, false, true] },
    expect: { host1: ['copy n.txt <- host3'] },
  },
  {
    name: 'a FIFO is never replicated nor replaced, and nothing is made under it',
    trees: [{ p: FIFO, q: D(), 'q/x': F(100) }, { q: FIFO }, { z: F(1) }],
    expect: { host1: ['copy z <- host3'], host2: ['copy z <- host3'], host3: ['mkdir q', 'copy q/x <- host1'] },
    check: (r) => {
      assert.equal(r.plan.unsupportedCount, 2);
      assert.deepEqual(r.plan.unsupported.map((u) => `${u.host}:${u.path}`).sort(), ['host1:p', 'host2:q']);
    },
  },
  {
    name: 'safety: a host whose root is empty stops a whole-ring repair',
    trees: [base, {}, base],
    stop: 'root-empty',
    check: (r) => {
      assert.match(r.stop!.message, /root of host2 is empty/);
      assert.match(r.stop!.hint, /chain repair --from host1/);
    },
  },
  {
    name: 'safety: an empty host may receive from a named source',
    trees: [base, {}, base],
    opts: { mode: { kind: 'from', source: 0 } },
    check: (r) => {
      assert.equal(r.stop, undefined);
      assert.deepEqual(r.plan.hosts[1]!.actions.map(show), ['copy a.txt <- host1,host3', 'mkdir docs', 'mkdir docs/img', 'copy docs/img/p.jpg <- host1,host3', 'copy docs/r.md <- host1,host3']);
    },
  },
  {
    name: 'safety: an empty source with --delete stops',
    trees: [{}, base],
    opts: { mode: { kind: 'link', source: 0, target: 1 }, delete: true },
    stop: 'source-empty',
  },
  {
    name: 'safety: an empty source without --delete has nothing to do',
    trees: [{}, base],
    opts: { mode: { kind: 'link', source: 0, target: 1 } },
    expect: {},
  },
  {
    name: 'safety: a missing root stops, naming the host',
    trees: [base, base, base],
    opts: { roots: ['ok', 'ok', 'missing'] },
    stop: 'root-missing',
    check: (r) => assert.match(r.stop!.message, /host3/),
  },
  {
    name: 'safety: all roots empty is simply nothing to do',
    trees: [{}, {}, {}],
    expect: {},
  },
  {
    name: '--max-delete: more deletes than allowed stops (the plan is still there to look at)',
    trees: [withf(base, {}, ['docs']), base],
    opts: { mode: { kind: 'from', source: 0 }, delete: true, maxDelete: 3 },
    stop: 'max-delete',
    check: (r) => {
      assert.equal(r.plan.deletes, 4);
      assert.match(r.stop!.message, /would delete 4 paths \(host2: 4\), more than --max-delete 3/);
    },
  },
  {
    name: '--max-delete: exactly as many as allowed goes ahead',
    trees: [withf(base, {}, ['docs']), base],
    opts: { mode: { kind: 'from', source: 0 }, delete: true, maxDelete: 4 },
    expect: { host2: ['remove docs (4)'] },
  },
];

for (const c of cases) {
  test(`reconcile: ${c.name}`, () => {
    const r = run(c);
    if (c.stop) assert.equal(r.stop?.reason, c.stop, `expected a ${c.stop} stop`);
    else if (r.stop) assert.fail(`unexpected stop: ${r.stop.message}`);
    if (c.expect) {
      const got: Record<string, string[]> = {};
      for (const h of r.plan.hosts) if (h.actions.length) got[h.host] = h.actions.map(show);
      const want = Object.fromEntries(Object.entries(c.expect).filter(([, v]) => v.length));
      assert.deepEqual(got, want);
    }
    c.check?.(r);
  });
}

test('reconcile: --delete without a source is refused', () => {
  assert.throws(() => run({ name: '', trees: [base, base], opts: { delete: true } }), /needs a source/);
});

test('reconcile: applying a plan to the listings makes every host the same (run again: nothing)', () => {
  const trees = [withf(base, { 'a.txt': F(200, 12), 'n1': F(1) }), withf(base, { 'a.txt': F(300, 13), docs: F(700) }, ['docs']), withf(base, { x: D(), 'x/y': L('../a.txt') }, ['docs/r.md'])];
  const maps = trees.map((t) => new Map(Object.entries(t)));
  const l = Listings.fromMaps(HOSTS, maps);
  const { plan } = reconcile(l, { ...ring, conflicts: 'keep' });
  // apply on the maps, as the engine would on the hosts
  plan.hosts.forEach((hp, h) => {
    const m = maps[h]!;
    const dropTree = (p: string) => {
      for (const k of [...m.keys()]) if (k === p || k.startsWith(p + '/')) m.delete(k);
    };
    for (const a of hp.actions) {
      if (a.op === 'keep') {
        m.set(a.to, m.get(a.path)!);
        m.delete(a.path);
      } else if (a.op === 'remove') dropTree(a.path);
      else {
        if (a.expect?.type === 'dir' && a.entry.type !== 'dir') dropTree(a.path);
        m.set(a.path, a.entry);
      }
    }
  });
  const again = reconcile(Listings.fromMaps(HOSTS, maps), { ...ring, conflicts: 'keep' });
  assert.equal(again.plan.differing, 0, JSON.stringify(again.plan.hosts.map((h) => h.actions.map(show))));
  assert.deepEqual([...maps[0]!.keys()].sort(), [...maps[2]!.keys()].sort());
});

test('Listings: rows grow past the first capacity; same() compares like sameEntry', () => {
  const l = new Listings(['a', 'b'], 16);
  for (let i = 0; i < 1000; i++) {
    const r = l.add(`f${i}`);
    l.set(0, r, F(i));
    l.set(1, r, F(i, i % 7 === 0 ? 11 : 10));
  }
  assert.equal(l.rows, 1000);
  assert.equal(l.count(0), 1000);
  assert.equal(l.same(l.row('f1')!, 0, 1), true);
  assert.equal(l.same(l.row('f7')!, 0, 1), false);
  assert.deepEqual(l.get(1, l.row('f7')!), F(7, 11));
  const s = l.add('s');
  l.set(0, s, L('x'));
  l.set(1, s, L('y'));
  assert.equal(l.same(s, 0, 1), false);
  l.set(1, s, null);
  assert.equal(l.count(1), 1000);
});
