import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, lstatSync, readlinkSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRemote, localEntry } from '../../src/transport/local.js';
import { SourceChangedError } from '../../src/transport/remote.js';
import { UnsafePathError } from '../../src/core/paths.js';
import { BESIDE_TEMP_PREFIX } from '../../src/core/names.js';

let base: string;
before(() => {
  base = mkdtempSync(join(tmpdir(), 'chain-local-'));
});
after(() => rmSync(base, { recursive: true, force: true }));

let n = 0;
/** a fresh root (with an "outside" sibling that must never be touched) */
function fresh(): { root: string; outside: string; r: LocalRemote } {
  const dir = join(base, String(n++));
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  mkdirSync(root, { recursive: true });
  mkdirSync(outside);
  return { root, outside, r: new LocalRemote(root, 'test') };
}

/** a source file outside the root, with a known mtime, and its planned Entry */
async function source(content: string | Buffer, mtime = 1_600_000_000) {
  const p = join(base, `src-${n++}`);
  writeFileSync(p, content);
  utimesSync(p, mtime, mtime);
  return { localPath: p, expect: (await localEntry(p))! };
}

/** every temp file chain may have left anywhere under dir */
function leftovers(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.name.startsWith(BESIDE_TEMP_PREFIX) || d.endsWith(join('.chain', 'tmp'))) out.push(p);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

describe('lstat / localEntry', () => {
  test('file, dir, symlink, missing; whole-second mtime; permission bits', async () => {
    const { root, r } = fresh();
    writeFileSync(join(root, 'f'), 'hello');
    utimesSync(join(root, 'f'), 1_700_000_000.9, 1_700_000_000.9);
    execFileSync('chmod', ['4750', join(root, 'f')]);
    mkdirSync(join(root, 'd'));
    symlinkSync('../nowhere', join(root, 'd', 'l'));
    // setuid/setgid are never replicated, so they are not part of an entry's mode
    assert.deepEqual(await r.lstat('f'), { type: 'file', size: 5, mtime: 1_700_000_000, mode: 0o750 });
    assert.equal((await r.lstat('d'))?.type, 'dir');
    assert.equal((await r.lstat(''))?.type, 'dir');
    const l = await r.lstat('d/l');
    assert.equal(l?.type, 'symlink');
    assert.equal(l?.target, '../nowhere');
    assert.equal(await r.lstat('missing'), null);
    assert.equal(await r.lstat('f/under-a-file'), null);
    assert.equal(await r.lstat('nodir/x'), null);
  });
});

describe('readdir', () => {
  test("ctimes: a directory's always (cp -a sets its mtime back), a file's when asked (a full rescan)", async () => {
    const { root, r } = fresh();
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'f'), 'x');
    utimesSync(join(root, 'd'), 1_000_000, 1_000_000);
    utimesSync(join(root, 'f'), 1_000_000, 1_000_000);
    const ctime = (rel: string) => Math.floor(statSync(join(root, rel)).ctimeMs / 1000);
    const listed = async (ctimes?: boolean) => Object.fromEntries((await r.readdir('', ctimes ? { ctimes } : undefined)).map((d) => [d.name, [d.entry.mtime, d.changed]]));
    assert.deepEqual(await listed(), { d: [1_000_000, ctime('d')], f: [1_000_000, undefined] });
    assert.deepEqual(await listed(true), { d: [1_000_000, ctime('d')], f: [1_000_000, ctime('f')] });
  });
});

describe('put', () => {
  test('writes content, mode 0600 and mtime, replaces atomically, leaves no temp', async () => {
    const { root, r } = fresh();
    const src = await source('new content');
    writeFileSync(join(root, 'a.jpg'), 'old');
    await r.put('a.jpg', src, { mode: 0o600, mtime: 1_650_000_000 });
    const st = statSync(join(root, 'a.jpg')); // before reading it: a read moves atime
    assert.equal(readFileSync(join(root, 'a.jpg'), 'utf8'), 'new content');
    assert.equal(st.mode & 0o7777, 0o600);
    assert.equal(Math.floor(st.mtimeMs / 1000), 1_650_000_000);
    assert.equal(Math.floor(st.atimeMs / 1000), 1_650_000_000);
    assert.deepEqual(leftovers(root), []);
  });

  test('streams a file bigger than one copy chunk', async () => {
    const { root, r } = fresh();
    const big = Buffer.alloc(3 * (1 << 20) + 123);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const src = await source(big);
    await r.put('big.bin', src, { mode: 0o644, mtime: 1_600_000_000 });
    assert.ok(readFileSync(join(root, 'big.bin')).equals(big));
  });

  test('an empty file', async () => {
    const { root, r } = fresh();
    await r.put('empty', await source(''), { mode: 0o644, mtime: 1_600_000_000 });
    assert.equal(statSync(join(root, 'empty')).size, 0);
  });

  test('replaces a symlink with a file, never writing through it', async () => {
    const { root, outside, r } = fresh();
    writeFileSync(join(outside, 'victim'), 'keep');
    symlinkSync(join(outside, 'victim'), join(root, 'l'));
    await r.put('l', await source('x'), { mode: 0o644, mtime: 1_600_000_000 });
    assert.ok(lstatSync(join(root, 'l')).isFile());
    assert.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'keep');
  });

  const changed: { name: string; mutate: (p: string) => void }[] = [
    { name: 'size differs', mutate: (p) => writeFileSync(p, 'longer than planned') },
    { name: 'mtime differs', mutate: (p) => utimesSync(p, 1_600_000_100, 1_600_000_100) },
    { name: 'gone', mutate: (p) => rmSync(p) },
    {
      name: 'replaced by a symlink',
      mutate: (p) => {
        rmSync(p);
        symlinkSync('/etc/hostname', p);
      },
    },
  ];
  for (const c of changed) {
    test(`SourceChangedError when the source changed since planned: ${c.name}`, async () => {
      const { root, r } = fresh();
      writeFileSync(join(root, 'a'), 'old');
      const src = await source('planned');
      c.mutate(src.localPath);
      await assert.rejects(r.put('a', src, { mode: 0o644, mtime: 1 }), SourceChangedError);
      assert.equal(readFileSync(join(root, 'a'), 'utf8'), 'old');
      assert.deepEqual(leftovers(root), []);
    });
  }

  test('a missing parent directory is an error (ENOENT), and no temp is left', async () => {
    const { root, r } = fresh();
    await assert.rejects(r.put('no/such/dir/f', await source('x'), { mode: 0o644, mtime: 1 }), { code: 'ENOENT' });
    assert.deepEqual(leftovers(root), []);
  });

  test('.chain being a symlink: the temp goes beside the target, nothing outside', async () => {
    const { root, outside, r } = fresh();
    symlinkSync(outside, join(root, '.chain'));
    mkdirSync(join(root, 'd'));
    await r.put('d/f', await source('x'), { mode: 0o644, mtime: 1_600_000_000 });
    assert.equal(readFileSync(join(root, 'd', 'f'), 'utf8'), 'x');
    assert.deepEqual(readdirSync(outside), []);
    assert.deepEqual(leftovers(root), []);
  });

  test('falls back beside the target when .chain/tmp is another filesystem (EXDEV)', async (t) => {
    const { root, r } = fresh();
    const tmp = join(root, '.chain', 'tmp');
    mkdirSync(tmp, { recursive: true });
    try {
      execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', tmp], { stdio: 'ignore' });
    } catch {
      return t.skip('cannot mount a tmpfs here (needs root)');
    }
    try {
      await r.put('f', await source('across'), { mode: 0o640, mtime: 1_600_000_000 });
      assert.equal(readFileSync(join(root, 'f'), 'utf8'), 'across');
      assert.equal(statSync(join(root, 'f')).mode & 0o777, 0o640);
      assert.deepEqual(readdirSync(tmp), []);
      assert.deepEqual(leftovers(root), []);
    } finally {
      execFileSync('umount', [tmp]);
    }
  });
});

describe('refuses paths that leave the root', () => {
  const bad = ['..', '../x', 'a/../../x', '/etc/passwd', 'a//b', './a', 'a\0b'];
  for (const p of bad) {
    test(JSON.stringify(p), async () => {
      const { r } = fresh();
      const src = await source('x');
      const ops: [string, () => Promise<unknown>][] = [
        ['lstat', () => r.lstat(p)],
        ['readdir', () => r.readdir(p)],
        ['mkdirp', () => r.mkdirp(p)],
        ['put', () => r.put(p, src, { mode: 0o644, mtime: 1 })],
        ['symlink', () => r.symlink(p, 't')],
        ['rename', () => r.rename('x', p)],
        ['setattr', () => r.setattr(p, { mode: 0o644 })],
        ['remove', () => r.remove(p)],
        ['writeSmall', () => r.writeSmall(p, 'x')],
        ['readSmall', () => r.readSmall(p)],
      ];
      for (const [name, op] of ops) await assert.rejects(op(), UnsafePathError, name);
    });
  }

  test('the root itself cannot be replaced or removed', async () => {
    const { r } = fresh();
    await assert.rejects(r.remove(''), UnsafePathError);
    await assert.rejects(r.put('', await source('x'), { mode: 0o644, mtime: 1 }), UnsafePathError);
    await assert.rejects(r.symlink('', 'x'), UnsafePathError);
  });

  for (const kind of ['outside', 'inside'] as const) {
    test(`a symlinked parent directory pointing ${kind} the root`, async () => {
      const { root, outside, r } = fresh();
      mkdirSync(join(root, 'real'));
      writeFileSync(join(outside, 'x'), 'secret');
      writeFileSync(join(root, 'real', 'x'), 'inner');
      symlinkSync(kind === 'outside' ? outside : 'real', join(root, 'link'));
      const src = await source('x');
      const ops: [string, () => Promise<unknown>][] = [
        ['lstat', () => r.lstat('link/x')],
        ['readdir', () => r.readdir('link')],
        ['mkdirp', () => r.mkdirp('link/sub/deeper')],
        ['put', () => r.put('link/new', src, { mode: 0o644, mtime: 1 })],
        ['symlink', () => r.symlink('link/l', 't')],
        ['rename from', () => r.rename('link/x', 'y')],
        ['rename to', () => r.rename('real/x', 'link/y')],
        ['setattr', () => r.setattr('link/x', { mode: 0o600 })],
        ['remove', () => r.remove('link/x')],
        ['writeSmall', () => r.writeSmall('link/w', 'x')],
        ['readSmall', () => r.readSmall('link/x')],
      ];
      for (const [name, op] of ops) await assert.rejects(op(), UnsafePathError, name);
      const target = kind === 'outside' ? outside : join(root, 'real');
      assert.deepEqual(readdirSync(target).sort(), ['x']);
      assert.equal(statSync(join(target, 'x')).mode & 0o777, 0o644);
    });
  }

  test('setattr never touches a symlink (chmod would follow it)', async () => {
    const { root, outside, r } = fresh();
    writeFileSync(join(outside, 'x'), 'x');
    symlinkSync(join(outside, 'x'), join(root, 'l'));
    await assert.rejects(r.setattr('l', { mode: 0o600 }), UnsafePathError);
    assert.equal(statSync(join(outside, 'x')).mode & 0o777, 0o644);
  });
});

describe('mkdirp', () => {
  test('creates missing parents, sets the mode exactly, is idempotent', async () => {
    const { root, r } = fresh();
    await r.mkdirp('a/b/c', 0o1750);
    assert.equal(statSync(join(root, 'a/b/c')).mode & 0o7777, 0o1750);
    await r.mkdirp('a/b/c', 0o700);
    assert.equal(statSync(join(root, 'a/b/c')).mode & 0o7777, 0o1750, 'an existing dir keeps its mode');
    await r.mkdirp('');
  });

  test('refuses to go through a file', async () => {
    const { root, r } = fresh();
    writeFileSync(join(root, 'f'), 'x');
    await assert.rejects(r.mkdirp('f/sub'), { code: 'ENOTDIR' });
  });
});

describe('symlink', () => {
  test('creates links as links (target verbatim), replaces files and links, leaves no temp', async () => {
    const { root, r } = fresh();
    await r.symlink('l', '../../somewhere/else');
    assert.equal(readlinkSync(join(root, 'l')), '../../somewhere/else');
    writeFileSync(join(root, 'f'), 'x');
    await r.symlink('f', 'target-2');
    assert.equal(readlinkSync(join(root, 'f')), 'target-2');
    await r.symlink('l', 'target-3');
    assert.deepEqual(await r.lstat('l'), { ...(await localEntry(join(root, 'l')))!, target: 'target-3' });
    assert.deepEqual(leftovers(root), []);
  });
});

describe('rename / setattr', () => {
  test('rename replaces the destination', async () => {
    const { root, r } = fresh();
    writeFileSync(join(root, 'a'), 'A');
    writeFileSync(join(root, 'b'), 'B');
    await r.rename('a', 'b');
    assert.equal(readFileSync(join(root, 'b'), 'utf8'), 'A');
    assert.equal(existsSync(join(root, 'a')), false);
  });

  test('setattr sets mode and whole-second mtime of files and dirs', async () => {
    const { root, r } = fresh();
    writeFileSync(join(root, 'f'), 'x');
    mkdirSync(join(root, 'd'));
    await r.setattr('f', { mode: 0o640, mtime: 1_500_000_000 });
    await r.setattr('d', { mtime: 1_500_000_001 });
    assert.deepEqual(await r.lstat('f'), { type: 'file', size: 1, mtime: 1_500_000_000, mode: 0o640 });
    assert.equal((await r.lstat('d'))?.mtime, 1_500_000_001);
    await assert.rejects(r.setattr('missing', { mode: 0o600 }), { code: 'ENOENT' });
  });
});

describe('remove', () => {
  test('file, link (not its target), tree; missing is a no-op', async () => {
    const { root, outside, r } = fresh();
    mkdirSync(join(root, 't/a/b'), { recursive: true });
    writeFileSync(join(root, 't/a/b/f'), 'x');
    writeFileSync(join(outside, 'keep'), 'x');
    symlinkSync(outside, join(root, 't/a/link-out'));
    symlinkSync(outside, join(root, 'l'));
    writeFileSync(join(root, 'f'), 'x');
    await r.remove('f');
    await r.remove('l');
    await r.remove('t');
    await r.remove('missing');
    await r.remove('missing/deeper');
    assert.deepEqual(readdirSync(root), []);
    assert.deepEqual(readdirSync(outside), ['keep']);
  });
});

describe('readdir', () => {
  test('lists entries sorted, lstat-ed, links with targets; hides .chain and temps; [] when missing', async () => {
    const { root, r } = fresh();
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'b.txt'), 'bb');
    writeFileSync(join(root, 'a.txt'), 'a');
    symlinkSync('d', join(root, 'c-link'));
    writeFileSync(join(root, `${BESIDE_TEMP_PREFIX}123`), 'partial');
    mkdirSync(join(root, '.chain', 'inbox'), { recursive: true });
    writeFileSync(join(root, '.chain', 'inbox', 'm.json'), '{}');
    const list = await r.readdir('');
    assert.deepEqual(
      list.map((e) => [e.name, e.entry.type, e.entry.size, e.entry.target]),
      [
        ['a.txt', 'file', 1, undefined],
        ['b.txt', 'file', 2, undefined],
        ['c-link', 'symlink', 1, 'd'],
        ['d', 'dir', list.find((e) => e.name === 'd')!.entry.size, undefined],
      ],
    );
    assert.deepEqual((await r.readdir('.chain/inbox')).map((e) => e.name), ['m.json'], 'inside .chain everything shows');
    assert.deepEqual(await r.readdir('missing'), []);
    await assert.rejects(r.readdir('a.txt'), { code: 'ENOTDIR' });
  });

  test('a big directory', async () => {
    const { root, r } = fresh();
    for (let i = 0; i < 2000; i++) writeFileSync(join(root, `f${i}`), String(i));
    const list = await r.readdir('');
    assert.equal(list.length, 2000);
    assert.ok(list.every((e) => e.entry.type === 'file' && e.entry.size === e.name.length - 1));
  });
});

describe('writeSmall / readSmall', () => {
  test('round trip, creates parents, atomic, null when missing', async () => {
    const { root, r } = fresh();
    assert.equal(await r.readSmall('.chain/inbox/x.json'), null);
    await r.writeSmall('.chain/inbox/x.json', '{"v":1}');
    await r.writeSmall('.chain/inbox/x.json', Buffer.from('{"v":2}'));
    assert.equal((await r.readSmall('.chain/inbox/x.json'))?.toString(), '{"v":2}');
    assert.deepEqual(readdirSync(join(root, '.chain', 'inbox')), ['x.json']);
  });
});
