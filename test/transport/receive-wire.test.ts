// receive-wire: frames survive any cut of the byte stream, and anything that is not a frame of
// ours is refused rather than read as one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameReader, MAX_DATA, WireError, decodeAnswer, decodePut, encodeAnswer, encodePut, type Answer, type PutFrame } from '../../src/transport/receive-wire.js';

const puts: PutFrame[] = [
  { id: 1, mode: 0o644, mtime: 1_700_000_000, path: 'a.bin', data: Buffer.from('hello') },
  { id: 2, mode: 0o600, mtime: 0, path: 'dir with space/ünï.txt', data: Buffer.alloc(0) },
  { id: 0xffffffff, mode: 0o4755, mtime: 4_294_967_296 + 5, path: 'd/e/f', data: Buffer.alloc(MAX_DATA, 7) },
  { id: 3, mode: 0o644, mtime: -86_400, path: 'old', data: Buffer.from([0, 1, 2]) },
];

for (const p of puts) {
  test(`put frame round trip: ${p.path} (${p.data.length} bytes)`, () => {
    const b = encodePut(p);
    assert.equal(b.readUInt32LE(0), b.length - 4);
    const back = decodePut(b.subarray(4));
    assert.deepEqual({ ...back, data: Buffer.from(back.data) }, p);
  });
}

const answers: Answer[] = [
  { id: 9 },
  { id: 10, failure: { name: 'Error', code: 'EACCES', message: 'EACCES: permission denied, open …' } },
  { id: 11, failure: { name: 'UnsafePathError', message: 'refusing path "x/y": "x" goes through a symlink', why: '"x" goes through a symlink' } },
];

for (const a of answers) {
  test(`answer round trip: ${a.failure?.name ?? 'done'}`, () => {
    const b = encodeAnswer(a);
    assert.deepEqual(decodeAnswer(b.subarray(4)), a);
  });
}

test('frames survive every cut of the stream', () => {
  const stream = Buffer.concat(puts.slice(0, 2).map(encodePut).concat(encodePut(puts[3]!)));
  for (const cut of [1, 3, 4, 5, 17, 30, stream.length - 1]) {
    const r = new FrameReader();
    const got = [...r.push(stream.subarray(0, cut)), ...r.push(stream.subarray(cut))].map((b) => decodePut(b).path);
    assert.deepEqual(got, ['a.bin', 'dir with space/ünï.txt', 'old'], `cut at ${cut}`);
    assert.equal(r.pending, 0);
  }
  // byte by byte
  const r = new FrameReader();
  const got: string[] = [];
  for (let i = 0; i < stream.length; i++) got.push(...r.push(stream.subarray(i, i + 1)).map((b) => decodePut(b).path));
  assert.equal(got.length, 3);
});

const bad: { name: string; bytes: () => Buffer; in: 'reader' | 'put' | 'answer' }[] = [
  { name: 'a length no frame has (text from a shell)', bytes: () => Buffer.from('bash: chain: command not found\n'), in: 'reader' },
  { name: 'a put shorter than its header', bytes: () => Buffer.alloc(10), in: 'put' },
  { name: "a put whose path runs past its end", bytes: () => { const b = encodePut(puts[0]!).subarray(4); b.writeUInt16LE(500, 16); return b; }, in: 'put' },
  { name: 'an answer with an unknown status', bytes: () => Buffer.from([1, 0, 0, 0, 7]), in: 'answer' },
  { name: 'a failure that is not JSON', bytes: () => Buffer.concat([Buffer.from([1, 0, 0, 0, 1]), Buffer.from('{oops')]), in: 'answer' },
];

for (const c of bad) {
  test(`refused: ${c.name}`, () => {
    const run = () => (c.in === 'reader' ? new FrameReader().push(c.bytes()) : c.in === 'put' ? decodePut(c.bytes()) : decodeAnswer(c.bytes()));
    assert.throws(run, WireError);
  });
}

test('a file larger than a frame carries, or a path too long, is not encoded', () => {
  assert.throws(() => encodePut({ ...puts[0]!, data: Buffer.alloc(MAX_DATA + 1) }), WireError);
  assert.throws(() => encodePut({ ...puts[0]!, path: 'x'.repeat(5000) }), WireError);
});
