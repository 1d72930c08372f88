// Many SFTP requests in one SSH packet. ssh2 sends every SFTP request as its own CHANNEL_DATA
// packet: a 5 KiB file costs five packets (open, write, fsetstat, close, rename), each padded with
// fresh random bytes, encrypted, MAC'd and written to the socket on its own, and sshd decrypts and
// forwards each one separately. SFTP is a byte stream, so the requests issued during one turn of
// the event loop can travel together: this collects the channel's outgoing data and sends it at
// the end of the turn in as few packets as the peer's maximum packet size allows. ssh2 has already
// charged each request against the channel window, so the total stays within it; only framing
// changes, never order (any other call on the protocol flushes first).
import type { SFTPWrapper } from 'ssh2';

interface ProtocolLike {
  channelData(id: number, data: Buffer): void;
}

interface SftpInternals {
  _protocol: ProtocolLike;
  _client?: { _sock?: { cork?: () => void; uncork?: () => void } };
  outgoing: { id: number; packetSize: number; state?: string };
}

/** Make sftp send the requests of one event-loop turn together. Idempotent per channel. */
export function batchRequests(sftp: SFTPWrapper): void {
  const inner = sftp as unknown as SftpInternals;
  const real = inner._protocol;
  if (!real || typeof real.channelData !== 'function' || (real as { batched?: boolean }).batched) return;
  const chunks: Buffer[] = [];
  let bytes = 0;
  let scheduled = false;

  const flush = (): void => {
    scheduled = false;
    if (chunks.length === 0) return;
    const { id, state } = inner.outgoing;
    // closed meanwhile: the requests fail with the channel (sftp-channel.ts); nothing to send
    if (state !== undefined && state !== 'open') {
      chunks.length = 0;
      bytes = 0;
      return;
    }
    const max = inner.outgoing.packetSize > 0 ? inner.outgoing.packetSize : 32 * 1024;
    const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, bytes);
    chunks.length = 0;
    bytes = 0;
    if (all.length <= max) return real.channelData(id, all);
    // several packets: one write to the socket for all of them
    const sock = inner._client?._sock;
    sock?.cork?.();
    try {
      for (let p = 0; p < all.length; p += max) real.channelData(id, all.subarray(p, p + max));
    } finally {
      sock?.uncork?.();
    }
  };

  const proxy = new Proxy(real as object, {
    get(target, prop, receiver) {
      if (prop === 'batched') return true;
      if (prop === 'channelData') {
        return (id: number, data: Buffer) => {
          // another channel's data (never expected: this proxy is this channel's only) goes as is
          if (id !== inner.outgoing.id) {
            flush();
            real.channelData(id, data);
            return;
          }
          chunks.push(data);
          bytes += data.length;
          if (!scheduled) {
            scheduled = true;
            setImmediate(flush);
          }
        };
      }
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      // EOF, close, window adjusts…: whatever was queued goes first, so order is kept
      return (...args: unknown[]) => {
        flush();
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  inner._protocol = proxy as ProtocolLike;
}
