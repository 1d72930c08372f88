// DirGuard (transport/dir-guard.ts) over a fake channel that counts requests: concurrent writers of
// one new directory. (The real server is in sftp.test.ts; the race below depends on the order in
// which promise continuations run, which a real run hits only now and then.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DirGuard } from '../../src/transport/dir-guard.js';
import type { SftpChannel } from '../../src/transport/sftp-channel.js';
import { SftpError, SFTP_STATUS } from '../../src/transport/sftp-errors.js';

class FakeChannel {
  readonly dirs = new Set<string>(['/r']);
  readonly calls: string[] = [];
  private st(path: string) {
    if (!this.dirs.has(path)) throw new SftpError('no-such-file', 'h', path, 'no such file', { code: SFTP_STATUS.NO_SUCH_FILE });
    return { isDirectory: () => true };
  }
  async stat(path: string) {
    this.calls.push(`stat ${path}`);
    return this.st(path);
  }
  async lstat(path: string) {
    this.calls.push(`lstat ${path}`);
    return this.st(path);
  }
  async lstatOrNull(path: string) {
    return this.lstat(path).catch(() => null);
  }
  async mkdir(path: string) {
    this.calls.push(`mkdir ${path}`);
    if (this.dirs.has(path)) throw new SftpError('failure', 'h', path, 'exists', { code: SFTP_STATUS.FAILURE });
    this.dirs.add(path);
  }
  async setstat() {}
}

const mkdirs = (ch: FakeChannel) => ch.calls.filter((c) => c.startsWith('mkdir'));

test('a writer whose check saw the directory missing before a concurrent writer made it sends no second mkdir', async () => {
  const ch = new FakeChannel();
  const g = new DirGuard(ch as unknown as SftpChannel, 'h', '/r');
  await Promise.all([g.ensure('m/a'), g.ensure('m/a'), g.ensure('m/b')]);
  assert.deepEqual(mkdirs(ch), ['mkdir /r/m', 'mkdir /r/m/a', 'mkdir /r/m/b'], 'concurrent calls share one mkdir per directory');
  // the race: a check answered before m/a existed, whose verdict is acted on after the writer that
  // made it is done (its in-flight mkdir no longer there to share)
  g.state = async () => ({ state: 'missing', at: 'm/a' });
  await g.ensure('m/a');
  assert.deepEqual(mkdirs(ch), ['mkdir /r/m', 'mkdir /r/m/a', 'mkdir /r/m/b'], `requests: ${ch.calls.join(', ')}`);
  // a directory verified long ago, or never, is still made when found missing
  g.state = async () => ({ state: 'missing', at: 'n' });
  await g.ensure('n');
  assert.deepEqual(mkdirs(ch).slice(3), ['mkdir /r/n']);
});
