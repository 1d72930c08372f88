// batchRequests: the SFTP requests of one event-loop turn leave in as few CHANNEL_DATA packets as
// the peer's maximum packet size allows, bytes and order unchanged. A recording stand-in for ssh2's
// Protocol object shows the framing; the SFTP tests against a real sshd (sftp.test.ts) show the
// requests still work end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import type { SFTPWrapper } from 'ssh2';
import { batchRequests } from '../../src/transport/sftp-batch.js';

type Call = { op: string; id?: number; data?: Buffer };

function fakeSftp(packetSize: number) {
  const calls: Call[] = [];
  const protocol = {
    channelData(id: number, data: Buffer) {
      calls.push({ op: 'data', id, data: Buffer.from(data) });
    },
    channelEOF(id: number) {
      calls.push({ op: 'eof', id });
    },
  };
  const sftp = { _protocol: protocol, outgoing: { id: 7, packetSize } };
  batchRequests(sftp as unknown as SFTPWrapper);
  const send = (id: number, data: Buffer) => (sftp._protocol as typeof protocol).channelData(id, data);
  return { sftp, calls, send, eof: () => (sftp._protocol as typeof protocol).channelEOF(7) };
}

const bytes = (n: number, fill: number) => Buffer.alloc(n, fill);

const cases: { name: string; packetSize: number; sizes: number[]; packets: number[] }[] = [
  { name: 'one request: one packet, as before', packetSize: 32768, sizes: [100], packets: [100] },
  { name: 'many small requests: one packet', packetSize: 32768, sizes: [40, 5200, 60, 30, 5200, 60], packets: [10590] },
  { name: 'more than a packet: split at the peer maximum', packetSize: 1000, sizes: [600, 600, 600], packets: [1000, 800] },
  { name: 'one request larger than a packet (already split by ssh2 at most max)', packetSize: 1000, sizes: [1000, 1000, 10], packets: [1000, 1000, 10] },
  { name: 'exactly a packet', packetSize: 64, sizes: [32, 32], packets: [64] },
];

for (const c of cases) {
  test(`batchRequests: ${c.name}`, async () => {
    const { calls, send } = fakeSftp(c.packetSize);
    const sent = c.sizes.map((n, i) => bytes(n, i + 1));
    for (const b of sent) send(7, b);
    assert.equal(calls.length, 0, 'nothing leaves before the end of the turn');
    await turn();
    assert.deepEqual(calls.map((x) => x.data!.length), c.packets);
    assert.ok(calls.every((x) => x.op === 'data' && x.id === 7));
    assert.ok(Buffer.concat(calls.map((x) => x.data!)).equals(Buffer.concat(sent)), 'same bytes, same order');
  });
}

test('batchRequests: another call on the protocol sends what is queued first', async () => {
  const { calls, send, eof } = fakeSftp(32768);
  send(7, bytes(10, 1));
  send(7, bytes(20, 2));
  eof();
  assert.deepEqual(calls.map((x) => x.op), ['data', 'eof']);
  assert.equal(calls[0].data!.length, 30);
  await turn();
  assert.equal(calls.length, 2, 'nothing is sent twice');
});

test('batchRequests: requests of separate turns are separate packets; applying twice changes nothing', async () => {
  const { sftp, calls, send } = fakeSftp(32768);
  batchRequests(sftp as unknown as SFTPWrapper);
  send(7, bytes(10, 1));
  await turn();
  send(7, bytes(10, 2));
  await turn();
  assert.deepEqual(calls.map((x) => x.data![0]), [1, 2]);
});

test('batchRequests: data for another channel is not held back', () => {
  const { calls, send } = fakeSftp(32768);
  send(7, bytes(5, 1));
  send(9, bytes(5, 2));
  assert.deepEqual(calls.map((x) => [x.id, x.data![0]]), [[7, 1], [9, 2]]);
});

test('batchRequests: what is queued when the channel closes is dropped, not sent on a closed channel', async () => {
  const { sftp, calls, send } = fakeSftp(32768);
  send(7, bytes(5, 1));
  (sftp.outgoing as { state?: string }).state = 'closed';
  await turn();
  assert.equal(calls.length, 0);
});
