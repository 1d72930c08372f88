// The first line a command we start on a host prints: our marker (ssh-walk.ts, receive-client.ts).
// Anything else first (a login shell's banner, "command not found", a forced sftp-server) means the
// host did not run our command, and the caller falls back to SFTP.

/** Reads a command's output until its marker line is complete. */
export class MarkerLine {
  private head: Buffer | null = Buffer.alloc(0);

  constructor(private readonly marker: string) {}

  /** the whole marker has arrived */
  get seen(): boolean {
    return this.head === null;
  }

  /** what came before anything else was known, for a message (at most 80 bytes) */
  get received(): string {
    return (this.head ?? Buffer.alloc(0)).toString('utf8', 0, 80);
  }

  /** the output after the marker (possibly empty), 'wait' for more, or 'foreign' when it is not ours */
  push(chunk: Buffer): Buffer | 'wait' | 'foreign' {
    if (this.head === null) return chunk;
    const head = this.head.length ? Buffer.concat([this.head, chunk]) : chunk;
    const n = Math.min(head.length, this.marker.length);
    this.head = head;
    if (head.toString('latin1', 0, n) !== this.marker.slice(0, n)) return 'foreign';
    if (head.length < this.marker.length) return 'wait';
    this.head = null;
    return head.subarray(this.marker.length);
  }
}
