import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FsEvent } from '../../src/core/types.js';
import { ChainError } from '../../src/core/errors.js';
import { eventsSince, watchDir, watchLimitError, watchTree, writeSnapshot, type Watch } from '../../src/engine/watcher.js';

let base: string;
before(() => {
  base = mkdtempSync(join(tmpdir(), 'chain-watch-'));
});
after(() => rmSync(base, { recursive: true, force: true }));

let n = 0;
function dirs() {
  const dir = join(base, String(n++));
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  mkdirSync(root, { recursive: true });
  mkdirSync(outside);
  return { dir, root, outside };
}

async function until(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** a watchTree that records what it reports */
async function watched(root: string, ignore?: (rel: string) => boolean) {
  const events: FsEvent[] = [];
  const errors: Error[] = [];
  const rescans: string[][] = [];
  const w = await watchTree(root, {
    onEvents: (e) => events.push(...e),
    onError: (e) => errors.push(e),
    onRescan: (d) => rescans.push(d),
    burst: 100,
    ignore,
  });
  const has = (kind: FsEvent['kind'], path: string) => events.some((e) => e.kind === kind && e.path === path);
  return { w, events, errors, rescans, has, saw: (kind: FsEvent['kind'], path: string) => until(`${kind} ${path}`, () => has(kind, path)) };
}

describe('watchTree', () => {
  let open: Watch[] = [];
  after(async () => Promise.all(open.map((w) => w.close())));

  const cases: { name: string; setup?: (root: string, outside: string) => void; act: (root: string, outside: string) => void; expect: [FsEvent['kind'], string][] }[] = [
    { name: 'create + write of a file', act: (r) => writeFileSync(join(r, 'a.jpg'), 'x'), expect: [['create', 'a.jpg']] },
    { name: 'update', setup: (r) => writeFileSync(join(r, 'a'), 'x'), act: (r) => appendFileSync(join(r, 'a'), 'y'), expect: [['update', 'a']] },
    { name: 'chmod is an update', setup: (r) => writeFileSync(join(r, 'a'), 'x'), act: (r) => spawnSync('chmod', ['600', join(r, 'a')]), expect: [['update', 'a']] },
    { name: 'delete', setup: (r) => writeFileSync(join(r, 'a'), 'x'), act: (r) => unlinkSync(join(r, 'a')), expect: [['delete', 'a']] },
    {
      name: 'rename of a file',
      setup: (r) => writeFileSync(join(r, 'a'), 'x'),
      act: (r) => renameSync(join(r, 'a'), join(r, 'b')),
      expect: [['delete', 'a'], ['create', 'b']],
    },
    { name: 'symlink', act: (r) => symlinkSync('nowhere', join(r, 'l')), expect: [['create', 'l']] },
    {
      name: 'rm -rf of a watched tree: one delete per entry',
      setup: (r) => {
        mkdirSync(join(r, 't/a'), { recursive: true });
        writeFileSync(join(r, 't/a/f'), 'x');
      },
      act: (r) => rmSync(join(r, 't'), { recursive: true }),
      expect: [['delete', 't'], ['delete', 't/a'], ['delete', 't/a/f']],
    },
    {
      name: 'a file written through .chain/tmp appears as a create of the target only',
      act: (r) => {
        mkdirSync(join(r, '.chain/tmp'), { recursive: true });
        writeFileSync(join(r, '.chain/tmp/t1'), 'x');
        renameSync(join(r, '.chain/tmp/t1'), join(r, 'final'));
      },
      expect: [['create', 'final']],
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const { root, outside } = dirs();
      c.setup?.(root, outside);
      const t = await watched(root);
      open.push(t.w);
      c.act(root, outside);
      for (const [kind, path] of c.expect) await t.saw(kind, path);
      assert.ok(t.events.every((e) => !e.path.startsWith('.chain') && e.at > 0));
      assert.deepEqual(t.errors, []);
    });
  }

  test('a directory moved in from outside: its pre-existing subdirectories are watched too', async () => {
    const { root, outside } = dirs();
    const t = await watched(root);
    open.push(t.w);
    mkdirSync(join(outside, 'm/n/o'), { recursive: true });
    writeFileSync(join(outside, 'm/n/o/old'), 'x');
    renameSync(join(outside, 'm'), join(root, 'm'));
    await t.saw('create', 'm');
    // parcel alone never reports this (it watches only m itself); the catch-up subscription does
    await until('catch-up', () => t.events.filter((e) => e.path === 'm' && e.kind === 'create').length >= 2);
    writeFileSync(join(root, 'm/n/o/new'), 'x');
    await t.saw('create', 'm/n/o/new');
    mkdirSync(join(root, 'm/n/o/p'));
    await t.saw('create', 'm/n/o/p'); // a file written before this may come without an event: the consumer walks p
    writeFileSync(join(root, 'm/n/o/p/deeper'), 'x');
    await t.saw('create', 'm/n/o/p/deeper');
  });

  test('under a caught-up directory each change is reported once, not once per subscription watching it', async () => {
    const { root, outside } = dirs();
    const t = await watched(root);
    open.push(t.w);
    mkdirSync(join(outside, 'm/n'), { recursive: true });
    renameSync(join(outside, 'm'), join(root, 'm'));
    await until('catch-up', () => t.events.filter((e) => e.path === 'm' && e.kind === 'create').length >= 2);
    // m itself is watched by the root's subscription and by m's own; n, q only by m's
    writeFileSync(join(root, 'm/top'), 'x');
    writeFileSync(join(root, 'm/n/deep'), 'x');
    mkdirSync(join(root, 'm/q'));
    await t.saw('create', 'm/q');
    writeFileSync(join(root, 'm/q/f'), 'x');
    appendFileSync(join(root, 'm/top'), 'y');
    // its create first: a create and a delete in one of parcel's batches fold into no event at all
    // (CI, a loaded machine: this test timed out waiting for the delete)
    await t.saw('create', 'm/n/deep');
    unlinkSync(join(root, 'm/n/deep'));
    await t.saw('delete', 'm/n/deep');
    // every subscription delivers in time order: once this is in, no copy of the above is still due
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(join(root, 'last'), 'x');
    await t.saw('create', 'last');
    const times = (kind: FsEvent['kind'], path: string) => t.events.filter((e) => e.kind === kind && e.path === path).length;
    for (const [kind, path] of [['create', 'm/top'], ['create', 'm/n/deep'], ['create', 'm/q'], ['create', 'm/q/f']] as const) {
      assert.equal(times(kind, path), 1, `${kind} ${path}`);
    }
    assert.ok(times('update', 'm/top') <= 1, 'update m/top');
    assert.deepEqual(t.errors, []);
  });

  test('mkdir -p and files at once: the tree is reported as created, later writes deep inside are seen', async () => {
    const { root } = dirs();
    const t = await watched(root);
    open.push(t.w);
    mkdirSync(join(root, 'y/m/d'), { recursive: true });
    writeFileSync(join(root, 'y/m/d/f1'), 'x');
    await t.saw('create', 'y');
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(join(root, 'y/m/d/f2'), 'x');
    await t.saw('create', 'y/m/d/f2');
  });

  test('a directory renamed inside the root: later writes in its subdirectories carry the new path', async () => {
    const { root } = dirs();
    mkdirSync(join(root, 'pre/sub/deep'), { recursive: true });
    const t = await watched(root);
    open.push(t.w);
    renameSync(join(root, 'pre'), join(root, 'post'));
    await t.saw('create', 'post');
    await t.saw('delete', 'pre');
    await until('catch-up', () => t.events.filter((e) => e.path === 'post' && e.kind === 'create').length >= 2);
    writeFileSync(join(root, 'post/sub/deep/g'), 'x');
    await t.saw('create', 'post/sub/deep/g');
  });

  test('a directory deleted and made again under the same name is watched afresh', async () => {
    const { root, outside } = dirs();
    const t = await watched(root);
    open.push(t.w);
    for (const round of [1, 2]) {
      mkdirSync(join(outside, `x/a${round}`), { recursive: true });
      renameSync(join(outside, 'x'), join(root, 'x'));
      await until('catch-up', () => t.events.filter((e) => e.path === 'x' && e.kind === 'create').length >= 2 * round);
      writeFileSync(join(root, `x/a${round}/f`), 'x');
      await t.saw('create', `x/a${round}/f`);
      rmSync(join(root, 'x'), { recursive: true });
      await t.saw('delete', 'x');
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  test('directories that vanish right after they appear are not errors', async () => {
    const { root, outside } = dirs();
    const t = await watched(root);
    open.push(t.w);
    for (let i = 0; i < 20; i++) {
      mkdirSync(join(outside, `v${i}/a/b`), { recursive: true });
      renameSync(join(outside, `v${i}`), join(root, `v${i}`));
      rmSync(join(root, `v${i}`), { recursive: true });
    }
    writeFileSync(join(root, 'marker'), 'x');
    await t.saw('create', 'marker');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(t.errors, []);
  });

  test('a missing root is a ChainError', async () => {
    const { dir } = dirs();
    await assert.rejects(watchTree(join(dir, 'nope'), { onEvents() {}, onError() {} }), ChainError);
  });

  test('.chain/, temp names and the ignore predicate are never reported', async () => {
    const { root } = dirs();
    const t = await watched(root, (rel) => rel.startsWith('cache/') || rel === 'cache');
    open.push(t.w);
    mkdirSync(join(root, '.chain/inbox'), { recursive: true });
    writeFileSync(join(root, '.chain/inbox/m.json'), '{}');
    writeFileSync(join(root, '.chain-tmp-abc'), 'x');
    mkdirSync(join(root, 'cache'));
    writeFileSync(join(root, 'cache/c'), 'x');
    writeFileSync(join(root, 'marker'), 'x');
    await t.saw('create', 'marker');
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(t.events.map((e) => e.path), ['marker']);
  });

  test('a burst calls onRescan with the directories it touched', async () => {
    const { root } = dirs();
    mkdirSync(join(root, 'b1'));
    mkdirSync(join(root, 'b2'));
    const t = await watched(root);
    open.push(t.w);
    for (let i = 0; i < 150; i++) writeFileSync(join(root, `b${1 + (i % 2)}`, `f${i}`), 'x');
    await until('rescan', () => t.rescans.length > 0);
    assert.ok(t.rescans.flat().every((d) => d === 'b1' || d === 'b2'));
  });

  test('the root deleted is an error, not a delete event', async () => {
    const { root } = dirs();
    writeFileSync(join(root, 'f'), 'x');
    const t = await watched(root);
    open.push(t.w);
    rmSync(root, { recursive: true });
    await until('error', () => t.errors.length > 0);
    assert.ok(t.errors[0] instanceof ChainError);
    assert.match(t.errors[0].message, /deleted or moved away/);
    assert.ok(t.events.every((e) => e.path !== ''));
  });

  test('a symlinked root is watched through its real path', async () => {
    const { dir, root } = dirs();
    symlinkSync(root, join(dir, 'link'));
    const t = await watched(join(dir, 'link'));
    open.push(t.w);
    writeFileSync(join(root, 'f'), 'x');
    await t.saw('create', 'f');
  });

  test('close stops the reports', async () => {
    const { root } = dirs();
    const t = await watched(root);
    await t.w.close();
    writeFileSync(join(root, 'f'), 'x');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(t.events, []);
  });
});

describe('snapshot + eventsSince', () => {
  test('reports what changed while nobody watched; .chain excluded; null without a snapshot', async () => {
    const { dir, root, outside } = dirs();
    const snap = join(dir, 'snap');
    assert.equal(await eventsSince(root, snap), null);
    mkdirSync(join(root, 'keep/sub'), { recursive: true });
    writeFileSync(join(root, 'keep/sub/mod'), 'x');
    utimesSync(join(root, 'keep/sub/mod'), 1_600_000_000, 1_600_000_000);
    writeFileSync(join(root, 'gone'), 'x');
    await writeSnapshot(root, snap);
    writeFileSync(join(root, 'new'), 'x');
    utimesSync(join(root, 'keep/sub/mod'), 1_600_000_001, 1_600_000_001);
    unlinkSync(join(root, 'gone'));
    mkdirSync(join(outside, 'm/n'), { recursive: true });
    writeFileSync(join(outside, 'm/n/f'), 'x');
    renameSync(join(outside, 'm'), join(root, 'm'));
    mkdirSync(join(root, '.chain/tmp'), { recursive: true });
    writeFileSync(join(root, '.chain/tmp/x'), 'x');
    const got = (await eventsSince(root, snap, (rel) => rel === 'ignored'))!.map((e) => `${e.kind} ${e.path}`).sort();
    assert.deepEqual(got, ['create m', 'create m/n', 'create m/n/f', 'create new', 'delete gone', 'update keep/sub/mod']);
  });

  test('a snapshot taken while watching is a fresh crawl (no blind spots of the live watch)', async () => {
    const { dir, root, outside } = dirs();
    const snap = join(dir, 'snap');
    const t = await watched(root);
    mkdirSync(join(outside, 'm/n'), { recursive: true });
    writeFileSync(join(outside, 'm/n/f'), 'x');
    renameSync(join(outside, 'm'), join(root, 'm'));
    await t.saw('create', 'm');
    await writeSnapshot(root, snap);
    await t.w.close();
    unlinkSync(join(root, 'm/n/f'));
    assert.deepEqual((await eventsSince(root, snap))!.map((e) => `${e.kind} ${e.path}`), ['delete m/n/f']);
  });
});

describe('a TreeWatch\'s own snapshot and eventsSince (the live tree: no crawl, no second tree)', () => {
  test('diff against the live tree; a fresh snapshot (crawled under an alias) is named like it', async () => {
    const { dir, root } = dirs();
    mkdirSync(join(root, 'a/b'), { recursive: true });
    writeFileSync(join(root, 'a/b/f'), 'x');
    writeFileSync(join(root, 'g'), 'x');
    const t = await watched(root);
    try {
      for (const [name, take] of [['fresh', (f: string) => writeSnapshot(root, f)], ['live', (f: string) => t.w.snapshot(f)]] as const) {
        const snap = join(dir, `snap-${name}`);
        assert.equal(await t.w.eventsSince(snap), null);
        await take(snap);
        assert.deepEqual(await t.w.eventsSince(snap), [], `${name}: nothing changed yet`);
        // a fresh crawl of a snapshot named under the real root, while the live tree exists
        assert.deepEqual(await eventsSince(root, snap), [], `${name}: module eventsSince`);
      }
      utimesSync(join(root, 'g'), 1_600_000_000, 1_600_000_000);
      await t.saw('update', 'g');
      for (const name of ['fresh', 'live']) {
        const got = (await t.w.eventsSince(join(dir, `snap-${name}`)))!.map((e) => `${e.kind} ${e.path}`);
        assert.deepEqual(got, ['update g'], name);
      }
    } finally {
      await t.w.close();
    }
  });

  test('exact until a directory is created (its earlier contents are not in the live tree)', async () => {
    const { root } = dirs();
    const t = await watched(root);
    try {
      writeFileSync(join(root, 'f'), 'x');
      await t.saw('create', 'f');
      assert.equal(t.w.exact, true);
      mkdirSync(join(root, 'd'));
      await t.saw('create', 'd');
      await until('exact turns false', () => !t.w.exact);
    } finally {
      await t.w.close();
    }
  });
});

describe('watchDir', () => {
  test('reports entries of one directory, survives the directory being removed and made again', async () => {
    const { root } = dirs();
    const inbox = join(root, '.chain/inbox');
    const seen: string[] = [];
    let rewatched = 0;
    const w = await watchDir(inbox, (events) => {
      // an empty call is the signal that the directory is watched again (the daemon then reads it whole)
      if (events.length === 0) rewatched++;
      seen.push(...events.map((e) => `${e.kind} ${e.path}`));
    });
    try {
      writeFileSync(join(inbox, '.chain-tmp-1'), 'x');
      renameSync(join(inbox, '.chain-tmp-1'), join(inbox, 'a.json'));
      await until('a.json', () => seen.includes('create a.json'));
      assert.ok(seen.every((s) => !s.includes('.chain-tmp-')));
      rmSync(inbox, { recursive: true });
      const before = rewatched;
      await until('the directory watched again', () => rewatched > before);
      mkdirSync(inbox, { recursive: true });
      writeFileSync(join(inbox, 'b.json'), 'x');
      await until('b.json', () => seen.includes('create b.json'));
    } finally {
      await w.close();
    }
  });
});

describe('inotify limits', () => {
  const table: { msg: string; code?: string; key: string | null }[] = [
    { msg: "inotify_add_watch on '/srv/x/d21' failed: No space left on device", key: 'max_user_watches' },
    { msg: "ENOSPC: System limit for number of file watchers reached, watch '/srv/x'", code: 'ENOSPC', key: 'max_user_watches' },
    { msg: 'Unable to initialize inotify: Too many open files', key: 'max_user_instances' },
    { msg: 'EMFILE: too many open files, watch', code: 'EMFILE', key: 'max_user_instances' },
    { msg: 'Not a directory', key: null },
    { msg: 'EACCES: permission denied', code: 'EACCES', key: null },
  ];
  for (const row of table) {
    test(`${row.msg} → ${row.key ?? 'not a limit'}`, () => {
      const err = Object.assign(new Error(row.msg), row.code ? { code: row.code } : {});
      const e = watchLimitError(err, '/srv/x');
      if (row.key === null) return assert.equal(e, null);
      assert.ok(e instanceof ChainError);
      assert.match(e.message, new RegExp(`/srv/x.*fs\\.inotify\\.${row.key} = \\d+`));
      assert.match(e.hint ?? '', new RegExp(`sysctl fs\\.inotify\\.${row.key}=\\d+.*/etc/sysctl\\.d/`));
      assert.equal(e.cause, err);
    });
  }

  // A real exhausted budget, without touching the machine's limit: a user namespace has its own
  // (/proc/sys/user/max_inotify_watches). Skipped where unprivileged user namespaces are off.
  test('a real exhausted watch budget is an error at start and for directories made later', (t) => {
    if (spawnSync('unshare', ['-Ur', 'true']).status !== 0) return t.skip('no unprivileged user namespaces here');
    const script = join(base, 'limit-child.mts');
    const mod = fileURLToPath(new URL('../../src/engine/watcher.ts', import.meta.url));
    writeFileSync(
      script,
      `import { mkdirSync, mkdtempSync } from 'node:fs';
       import { watchTree } from ${JSON.stringify(mod)};
       const big = mkdtempSync(${JSON.stringify(join(base, 'big-'))});
       for (let i = 0; i < 30; i++) mkdirSync(big + '/d' + i);
       try { await watchTree(big, { onEvents() {}, onError() {} }); console.log('START-OK'); }
       catch (e: any) { console.log('START-ERR ' + e.message + ' HINT ' + e.hint); }
       const small = mkdtempSync(${JSON.stringify(join(base, 'small-'))});
       const errors: string[] = [];
       const w = await watchTree(small, { onEvents() {}, onError(e) { errors.push(e.message); } });
       for (let i = 0; i < 30; i++) mkdirSync(small + '/n' + i);
       const end = Date.now() + 5000;
       while (errors.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
       console.log('LATER ' + (errors[0] ?? 'none'));
       await w.close();`,
    );
    const r = spawnSync('unshare', ['-Ur', 'sh', '-c', `echo 20 > /proc/sys/user/max_inotify_watches && exec "${process.execPath}" --import tsx "${script}"`], {
      encoding: 'utf8',
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /START-ERR cannot watch .*fs\.inotify\.max_user_watches = \d+.*HINT raise it: sysctl fs\.inotify\.max_user_watches=\d+/);
    assert.match(r.stdout, /LATER cannot watch .*fs\.inotify\.max_user_watches/);
  });
});
