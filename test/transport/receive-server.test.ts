// receive(): the receiving end of a push, driven through in-memory streams. It writes as every
// other write does (temp + rename, mode and mtime set) and refuses what SFTP writes refuse: paths
// out of the root, writes through a symlinked directory, a missing directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { receive } from '../../src/transport/receive-server.js';
import { FrameReader, MARKER, WireError, decodeAnswer, encodePut, type Answer } from '../../src/transport/receive-wire.js';

let base: string;
let n = 0;
before(() => (base = mkdtempSync(join(tmpdir(), 'chain-receive-'))));
after(() => rmSync(base, { recursive: true, force: true }));

function fresh() {
  const dir = join(base, String(n++));
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  mkdirSync(join(root, 'd'), { recursive: true });
  mkdirSync(outside);
  symlinkSync(outside, join(root, 'link'));
  writeFileSync(join(root, 'd', 'old.txt'), 'old');
  return { root, outside };
}

/** sends the puts (in chunks of `cut` bytes), ends the input; the answers by id and all output */
async function run(root: string, puts: { path: string; data?: string; mode?: number; mtime?: number }[], cut = 1 << 20) {
  const input = new PassThrough();
  const output = new PassThrough();
  const chunks: Buffer[] = [];
  output.on('data', (c: Buffer) => chunks.push(c));
  const done = receive(root, { input, output });
  const stream = Buffer.concat(puts.map((p, i) => encodePut({ id: i + 1, mode: p.mode ?? 0o644, mtime: p.mtime ?? 1_600_000_000, path: p.path, data: Buffer.from(p.data ?? '') })));
  for (let at = 0; at < stream.length; at += cut) input.write(stream.subarray(at, at + cut));
  input.end();
  await done;
  const all = Buffer.concat(chunks);
  assert.equal(all.toString('latin1', 0, MARKER.length), MARKER);
  const byId = new Map<number, Answer>();
  for (const body of new FrameReader().push(all.subarray(MARKER.length))) {
    const a = decodeAnswer(body);
    byId.set(a.id, a);
  }
  assert.equal(byId.size, puts.length, 'every put answered once');
  return puts.map((_, i) => byId.get(i + 1)!);
}

test('writes new and replaced files with mode and mtime, through any cut of the stream', async () => {
  for (const cut of [1 << 20, 7]) {
    const { root } = fresh();
    const got = await run(root, [
      { path: 'a.txt', data: 'A', mode: 0o600, mtime: 1_500_000_000 },
      { path: 'd/old.txt', data: 'new', mode: 0o640 },
      { path: 'd/space and ünï.txt', data: '' },
    ], cut);
    assert.deepEqual(got.map((a) => a.failure), [undefined, undefined, undefined]);
    const a = lstatSync(join(root, 'a.txt'));
    assert.equal(a.mode & 0o7777, 0o600);
    assert.equal(Math.floor(a.mtimeMs / 1000), 1_500_000_000);
    assert.equal(readFileSync(join(root, 'd/old.txt'), 'utf8'), 'new');
    assert.equal(lstatSync(join(root, 'd/old.txt')).mode & 0o7777, 0o640);
    assert.equal(readFileSync(join(root, 'd/space and ünï.txt'), 'utf8'), '');
    assert.deepEqual(readdirSync(join(root, '.chain/tmp')), [], 'no temp file left');
  }
});

const refused: { name: string; path: string; expect: { name?: string; code?: string } }[] = [
  { name: 'a path out of the root', path: '../escape.txt', expect: { name: 'UnsafePathError' } },
  { name: 'an absolute path', path: '/tmp/escape.txt', expect: { name: 'UnsafePathError' } },
  { name: 'a write through a symlinked directory', path: 'link/in.txt', expect: { name: 'UnsafePathError' } },
  { name: 'a directory that does not exist', path: 'nope/x.txt', expect: { code: 'ENOENT' } },
  { name: 'a file as the directory', path: 'd/old.txt/x', expect: { code: 'ENOTDIR' } },
  { name: 'the root itself', path: '', expect: { name: 'UnsafePathError' } },
];

for (const c of refused) {
  test(`refuses ${c.name}, and goes on with the next file`, async () => {
    const { root, outside } = fresh();
    const [bad, good] = await run(root, [{ path: c.path, data: 'x' }, { path: 'after.txt', data: 'y' }]);
    assert.ok(bad!.failure, 'refused');
    if (c.expect.name) assert.equal(bad!.failure!.name, c.expect.name);
    if (c.expect.code) assert.equal(bad!.failure!.code, c.expect.code);
    assert.equal(good!.failure, undefined);
    assert.equal(readFileSync(join(root, 'after.txt'), 'utf8'), 'y');
    assert.deepEqual(readdirSync(outside), [], 'nothing written outside the root');
    assert.ok(!existsSync(join(root, '..', 'escape.txt')));
    assert.deepEqual(readdirSync(join(root, '.chain/tmp')), [], 'no temp file left');
  });
}

/** a receiver on root whose answers are thrown away */
function started(root: string) {
  const input = new PassThrough();
  const output = new PassThrough();
  output.resume();
  return { input, done: receive(root, { input, output }) };
}

test('input that is not ours is refused, and nothing is written', async () => {
  const { root } = fresh();
  const { input, done } = started(root);
  input.end('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await assert.rejects(done, WireError);
  assert.deepEqual(readdirSync(root).sort(), ['d', 'link']);
});

test('input that ends inside a frame is refused', async () => {
  const { root } = fresh();
  const { input, done } = started(root);
  input.end(encodePut({ id: 1, mode: 0o644, mtime: 1, path: 'a', data: Buffer.from('abc') }).subarray(0, 12));
  await assert.rejects(done, /ended inside a frame/);
});
