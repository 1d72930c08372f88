// MarkerLine: a command's first line is our marker, whatever the cuts of the stream; anything else
// first is foreign, and what follows the marker is handed on unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MarkerLine } from '../../src/transport/marker-line.js';

const M = 'chain-x 1\n';
const cases: { name: string; chunks: string[]; want: (string | 'wait' | 'foreign')[]; seen: boolean }[] = [
  { name: 'the marker alone', chunks: [M], want: [''], seen: true },
  { name: 'the marker and output in one chunk', chunks: [`${M}abc`], want: ['abc'], seen: true },
  { name: 'the marker cut in three', chunks: ['cha', 'in-x', ` 1\nout`], want: ['wait', 'wait', 'out'], seen: true },
  { name: 'output after the marker passes unchanged', chunks: [M, 'one', 'two'], want: ['', 'one', 'two'], seen: true },
  { name: 'a shell error instead', chunks: ['bash: chain: command not found\n'], want: ['foreign'], seen: false },
  { name: 'a right start, then something else', chunks: ['chain-', 'y 1\n'], want: ['wait', 'foreign'], seen: false },
  { name: 'nothing yet', chunks: [], want: [], seen: false },
];

for (const c of cases) {
  test(`MarkerLine: ${c.name}`, () => {
    const m = new MarkerLine(M);
    const got = c.chunks.map((ch) => {
      const r = m.push(Buffer.from(ch));
      return typeof r === 'string' ? r : r.toString();
    });
    assert.deepEqual(got, c.want);
    assert.equal(m.seen, c.seen);
  });
}

test('MarkerLine: what a foreign answer said, for the message', () => {
  const m = new MarkerLine(M);
  m.push(Buffer.from('This account is restricted\n'));
  assert.equal(m.received, 'This account is restricted\n');
});
