// LinkMemory: bounded, exact, and durable across restarts (what lets a `cp -p` of a backup win
// after one); its compact table (engine/memory-table.ts) is checked against a plain Map.
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync, writeFileSync, existsSync, readdirSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { LinkMemory } from '../../src/engine/memory.js';
import { hashName } from '../../src/engine/memory-table.js';
import { packEntry } from '../../src/core/entry.js';
import type { Entry } from '../../src/core/types.js';

let dir: string;
let file: string;
let warnings: string[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'chain-memory-'));
  file = join(dir, 'state', 'memory', 'host2.mem');
  warnings = [];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const f = (mtime: number, size = 1, mode = 0o644): Entry => ({ type: 'file', size, mtime, mode });
const d = (mode = 0o755): Entry => ({ type: 'dir', size: 4096, mtime: 7, mode });
const link: Entry = { type: 'symlink', size: 1, mtime: 5, mode: 0o777, target: 'x y\n"z"' };
const open = (o: { cap?: number; file?: string } = {}) => new LinkMemory({ file, ...o, warn: (m) => warnings.push(m) });

test('saved and loaded: entries, links, removed paths; in the same order of forgetting', () => {
  const m = open({ cap: 3 });
  m.set('a', f(1));
  m.set('b', link);
  m.set('c', null);
  m.save();
  const back = open({ cap: 3 });
  assert.deepEqual(back.get('a'), f(1));
  assert.deepEqual(back.get('b'), link);
  assert.equal(back.get('c'), null, 'a removed path is remembered as removed');
  assert.equal(back.get('d'), undefined);
  back.set('d', f(4)); // over the cap: the oldest ("a") goes, as it would have without the restart
  assert.equal(back.get('a'), undefined);
  assert.deepEqual(back.get('b'), link);
  assert.deepEqual(warnings, []);
});

test('bounded: the oldest entries are forgotten first, a set refreshes an entry', () => {
  const m = new LinkMemory(2);
  m.set('a', f(1));
  m.set('b', f(2));
  m.set('a', f(3));
  m.set('c', f(4));
  assert.equal(m.get('b'), undefined);
  assert.deepEqual(m.get('a'), f(3));
  assert.equal(m.size, 2);
});

test('removedTree forgets what was below and remembers the path as removed', () => {
  const m = new LinkMemory();
  m.set('d', d());
  m.set('d/x', f(1));
  m.set('dx', f(1));
  m.removedTree('d');
  assert.equal(m.get('d'), null);
  assert.equal(m.get('d/x'), undefined);
  assert.deepEqual(m.get('dx'), f(1));
});

type Op = ['set', string, Entry | null] | ['forget', string] | ['forgetTree', string] | ['removedTree', string];
const cases: { name: string; cap?: number; ops: Op[]; expect: Record<string, Entry | null | undefined>; size?: number }[] = [
  {
    name: 'paths that differ only by where the slashes are stay apart',
    ops: [['set', 'x', f(1)], ['set', '/x', f(2)], ['set', 'x/', f(3)], ['set', 'a/b', f(4)], ['set', 'a//b', f(5)], ['set', '', f(6)]],
    expect: { x: f(1), '/x': f(2), 'x/': f(3), 'a/b': f(4), 'a//b': f(5), '': f(6), '//x': undefined, 'a/b/': undefined },
    size: 6,
  },
  {
    name: 'names of any characters: latin-1, beyond, surrogate pairs, a lone surrogate',
    ops: [['set', 'é', f(1)], ['set', 'd/日本', f(2)], ['set', 'd/\u00e9\u0301', f(3)], ['set', 'd/😀', f(4)], ['set', 'd/\ud800', f(5)], ['set', 'd/\ufffd', f(6)], ['set', 'd/ĀA', f(7)]],
    expect: { é: f(1), 'd/日本': f(2), 'd/\u00e9\u0301': f(3), 'd/😀': f(4), 'd/\ud800': f(5), 'd/\ufffd': f(6), 'd/ĀA': f(7), 'd/\u0100\u0041\u0000': undefined, 'd/e\u0301': undefined, e: undefined },
  },
  {
    name: 'exact numbers: large and fractional sizes and times, wide modes, other types',
    ops: [
      ['set', 'big', f(1_700_000_000, 2 ** 40)],
      ['set', 'old', f(-86400)],
      ['set', 'frac', f(1.5, 0.25)],
      ['set', 'future', f(2 ** 33)],
      ['set', 'wide', f(1, 1, 0o100644)],
      ['set', 'wider', f(1, 1, 70000)],
      ['set', 'dir', d(0o1777)],
      ['set', 'fifo', { type: 'other', size: 0, mtime: 3, mode: 0o600 }],
      ['set', 'link', link],
    ],
    expect: { big: f(1_700_000_000, 2 ** 40), old: f(-86400), frac: f(1.5, 0.25), future: f(2 ** 33), wide: f(1, 1, 0o100644), wider: f(1, 1, 70000), dir: d(0o1777), fifo: { type: 'other', size: 0, mtime: 3, mode: 0o600 }, link },
  },
  {
    name: 'a set replaces: an entry by absence, a link by a file, a file by a link',
    ops: [['set', 'a', f(1)], ['set', 'a', null], ['set', 'b', link], ['set', 'b', f(2)], ['set', 'c', f(3)], ['set', 'c', link]],
    expect: { a: null, b: f(2), c: link },
    size: 3,
  },
  {
    name: 'forgetTree: everything at any depth under the path, not paths that merely start alike',
    ops: [['set', 'd', d()], ['set', 'd/x', f(1)], ['set', 'd/e/f/g', f(2)], ['set', 'dx', f(3)], ['set', 'dx/y', f(4)], ['set', 'd x', f(5)], ['set', 'd.e/z', f(6)], ['forgetTree', 'd']],
    expect: { d: undefined, 'd/x': undefined, 'd/e/f/g': undefined, dx: f(3), 'dx/y': f(4), 'd x': f(5), 'd.e/z': f(6) },
    size: 4,
  },
  {
    name: 'forgetTree of a directory with nothing of its own remembered, only deep below',
    ops: [['set', 'a/b/c/f', f(1)], ['set', 'a/b2', f(2)], ['set', 'ab/c', f(3)], ['forgetTree', 'a/b']],
    expect: { 'a/b/c/f': undefined, 'a/b2': f(2), 'ab/c': f(3) },
    size: 2,
  },
  {
    name: 'forgetTree of a file, of an unknown path; forget leaves what is below',
    ops: [['set', 'p', f(1)], ['set', 'q', d()], ['set', 'q/r', f(2)], ['forgetTree', 'p'], ['forgetTree', 'nothing/here'], ['forget', 'q']],
    expect: { p: undefined, q: undefined, 'q/r': f(2) },
    size: 1,
  },
  {
    name: 'remembered again after being forgotten, in a directory emptied before',
    ops: [['set', 'd/x', f(1)], ['forgetTree', 'd'], ['set', 'd/x', f(2)], ['set', 'd/y/z', f(3)], ['removedTree', 'd/y']],
    expect: { 'd/x': f(2), 'd/y': null, 'd/y/z': undefined },
    size: 2,
  },
  {
    name: 'eviction: least recently set first; a forget does not count as use',
    cap: 3,
    ops: [['set', 'a', f(1)], ['set', 'b/x', f(2)], ['set', 'c', f(3)], ['set', 'a', f(4)], ['set', 'd', f(5)], ['set', 'e', f(6)], ['forget', 'c'], ['set', 'f', null]],
    expect: { 'b/x': undefined, c: undefined, a: undefined, d: f(5), e: f(6), f: null },
    size: 3,
  },
  {
    name: 'eviction after removedTree: the removed path is the newest',
    cap: 2,
    ops: [['set', 'a', f(1)], ['set', 't/x', f(2)], ['removedTree', 't'], ['set', 'b', f(3)]],
    expect: { a: undefined, t: null, 't/x': undefined, b: f(3) },
    size: 2,
  },
];

for (const c of cases) {
  test(`table: ${c.name} (and the same after a save and load)`, () => {
    const m = open({ cap: c.cap });
    for (const op of c.ops) {
      if (op[0] === 'set') m.set(op[1], op[2]);
      else m[op[0]](op[1]);
    }
    m.save();
    for (const [which, mem] of [['live', m], ['loaded', open({ cap: c.cap })]] as const) {
      for (const [path, want] of Object.entries(c.expect)) assert.deepEqual(mem.get(path), want, `${which}: ${JSON.stringify(path)}`);
      if (c.size !== undefined) assert.equal(mem.size, c.size, `${which}: size`);
    }
    assert.deepEqual(warnings, []);
  });
}

test('two names with the same hash in one directory never answer for each other', () => {
  // found by search; the directory "c" is the first one made (index 1)
  const [x, y] = ['n792878', 'n1170114'];
  assert.equal(hashName(1, x), hashName(1, y), 'the hash changed: find a new colliding pair');
  const m = new LinkMemory();
  m.set(`c/${x}`, f(1));
  assert.equal(m.get(`c/${y}`), undefined);
  m.set(`c/${y}`, f(2));
  assert.deepEqual([m.get(`c/${x}`), m.get(`c/${y}`)], [f(1), f(2)]);
  m.forget(`c/${x}`);
  assert.deepEqual([m.get(`c/${x}`), m.get(`c/${y}`)], [undefined, f(2)]);
});

test('against a plain Map: random sets, forgets and subtree forgets, with eviction, saved and loaded', () => {
  let seed = 42;
  const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
  const cap = 500;
  const model = new Map<string, Entry | null>();
  const modelSet = (p: string, e: Entry | null) => {
    model.delete(p);
    model.set(p, e);
    if (model.size > cap) model.delete(model.keys().next().value as string);
  };
  const modelForgetTree = (p: string) => {
    model.delete(p);
    for (const k of [...model.keys()]) if (k.startsWith(p + '/')) model.delete(k);
  };
  const path = () => {
    const parts = [];
    for (let i = rnd(4); i >= 0; i--) parts.push(['a', 'b', 'é', '日', 'long-name-'.repeat(1 + rnd(20)), String(rnd(40))][rnd(6)]);
    return parts.join('/');
  };
  const m = open({ cap });
  for (let i = 0; i < 20_000; i++) {
    const p = path();
    const r = rnd(100);
    if (r < 70) {
      const e = rnd(10) === 0 ? null : rnd(10) === 0 ? { ...link, target: p } : f(rnd(1000), rnd(3) ? rnd(100) : 2 ** 35 + rnd(5));
      m.set(p, e);
      modelSet(p, e);
    } else if (r < 85) {
      m.forget(p);
      model.delete(p);
    } else if (r < 95) {
      m.forgetTree(p);
      modelForgetTree(p);
    } else {
      m.removedTree(p);
      modelForgetTree(p);
      modelSet(p, null);
    }
    if (i % 1000 === 0 || i === 19_999) {
      assert.equal(m.size, model.size, `size after ${i}`);
      for (const [k, v] of model) assert.deepEqual(m.get(k), v, `after ${i}: ${k}`);
      for (let j = 0; j < 50; j++) {
        const q = path();
        assert.deepEqual(m.get(q), model.get(q), `after ${i}: ${q}`);
      }
    }
  }
  m.save();
  const back = open({ cap });
  assert.equal(back.size, model.size);
  for (const [k, v] of model) assert.deepEqual(back.get(k), v, `loaded: ${k}`);
  // and the order of forgetting came back too: filling up to the cap pushes out the oldest first
  const oldest = [...model.keys()][0];
  for (let j = back.size; j <= cap; j++) {
    back.set(`new-${j}`, f(j));
    modelSet(`new-${j}`, f(j));
  }
  assert.equal(back.get(oldest), undefined);
  assert.equal(back.size, cap);
  for (const [k, v] of model) assert.deepEqual(back.get(k), v, `loaded, then filled: ${k}`);
  assert.deepEqual(warnings, []);
});

test('checkpoint saves when enough changed or enough time passed, and not otherwise', () => {
  const m = new LinkMemory({ file, saveEveryMs: 60_000, saveAfterChanges: 3 });
  const t0 = Date.now();
  m.set('a', f(1));
  m.checkpoint(t0 + 1000);
  assert.equal(existsSync(file), false, 'one change, a second later: not yet');
  m.set('b', f(1));
  m.set('c', f(1));
  m.checkpoint(t0 + 1000);
  assert.equal(existsSync(file), true, 'three changes: saved (a large batch)');
  const bytes = readFileSync(file);
  m.set('d', f(1));
  m.checkpoint(t0 + 2000);
  assert.deepEqual(readFileSync(file), bytes, 'one more change: not yet');
  assert.equal(open().get('d'), undefined);
  m.checkpoint(t0 + 2000 + 60_000);
  assert.deepEqual(open().get('d'), f(1), 'a minute later: saved');
  assert.deepEqual(readdirSync(join(dir, 'state', 'memory')), ['host2.mem'], 'no temp file left');
  assert.equal(statSync(file).mode & 0o777, 0o600);
});

test('the old JSON-lines file is read once, then replaced by the new format', () => {
  const old = join(dir, 'state', 'memory', 'host2.jsonl');
  mkdirSync(join(dir, 'state', 'memory'), { recursive: true });
  const lines = [['a', f(1)], ['b', link], ['c', null], ['d/e', d()]].map(([p, e]) => JSON.stringify([p, packEntry(e as Entry | null)]));
  writeFileSync(old, ['{"v":1}', ...lines, '["torn", ["f", 1, 2'].join('\n'));
  const m = open({ cap: 4 });
  assert.deepEqual([m.get('a'), m.get('b'), m.get('c'), m.get('d/e'), m.get('torn')], [f(1), link, null, d(), undefined]);
  m.set('x', f(9)); // over the cap: the oldest of the old file goes first
  assert.equal(m.get('a'), undefined);
  assert.ok(existsSync(old), 'kept until the new file is written');
  m.save();
  assert.deepEqual(readdirSync(join(dir, 'state', 'memory')), ['host2.mem']);
  const back = open({ cap: 4 });
  assert.deepEqual([back.get('b'), back.get('c'), back.get('d/e'), back.get('x')], [link, null, d(), f(9)]);
  assert.deepEqual(warnings, []);
});

test('a file given in the old format itself is read, and rewritten by the first save even unchanged', () => {
  const given = join(dir, 'host2.jsonl');
  writeFileSync(given, '{"v":1}\n["a",["f",1,1,420]]\n');
  const m = open({ file: given });
  assert.deepEqual(m.get('a'), f(1));
  m.save();
  assert.notEqual(readFileSync(given, 'latin1').slice(0, 7), '{"v":1}');
  assert.deepEqual(open({ file: given }).get('a'), f(1));
});

test('the new file is much smaller than the old format', () => {
  const m = open();
  const old: string[] = ['{"v":1}'];
  for (let i = 0; i < 10_000; i++) {
    const p = `d${i % 10}/e${i % 100}/f${String(i).padStart(6, '0')}.bin`;
    const e = f(1_700_000_000 + i, 100 + i);
    m.set(p, e);
    old.push(JSON.stringify([p, packEntry(e)]));
  }
  m.save();
  const size = statSync(file).size;
  assert.ok(size < old.join('\n').length * 0.6, `${size} bytes vs ${old.join('\n').length}`);
});

const damage: [string, (b: Buffer) => Buffer | string][] = [
  ['cut short (torn)', (b) => b.subarray(0, b.length - 9)],
  ['one byte changed', (b) => (b[b.length >> 1] ^= 1, b)],
  ['more bytes after it', (b) => Buffer.concat([b, Buffer.from('x')])],
  ['only the start', (b) => b.subarray(0, 5)],
  ['empty', () => ''],
  ['something else', () => 'something else\n["a",["f",1,1,420]]\n'],
  ['a later format version', (b) => (b.writeUInt32LE(3, 8), b)],
];
for (const [what, hurt] of damage) {
  test(`a damaged file (${what}) starts empty with a warning, never fatal, and is replaced by the next save`, () => {
    const m = open();
    m.set('a', f(1));
    m.set('b/c', link);
    m.save();
    writeFileSync(file, hurt(readFileSync(file)));
    const back = open();
    assert.equal(back.size, 0);
    assert.equal(back.get('a'), undefined);
    assert.equal(warnings.length, 1, `warned: ${warnings.join('; ')}`);
    assert.ok(warnings[0].includes(file), warnings[0]);
    back.set('z', f(2));
    back.save();
    assert.deepEqual(open().get('z'), f(2));
    assert.equal(warnings.length, 1);
  });
}

test('an unreadable file starts empty with a warning', () => {
  mkdirSync(file, { recursive: true }); // EISDIR
  const m = open();
  assert.equal(m.size, 0);
  assert.equal(warnings.length, 1);
});

test('without a file nothing is written', () => {
  const m = new LinkMemory();
  m.set('a', f(1));
  m.save();
  m.checkpoint(Date.now() + 3_600_000);
  assert.equal(existsSync(join(dir, 'state')), false);
});
