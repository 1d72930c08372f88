// A ring for one integration test file: n real sshd hosts started before its tests; after them,
// every daemon started through the returned Watchers killed, then the hosts stopped.
import { before, after } from 'node:test';
import { startHosts, type Ring } from './sshd.js';
import { Watchers } from './chain.js';

/** `set` receives the ring once started; `beforeStop` runs after the daemons are gone (e.g. SIGCONT of a stopped host) */
export function ringForFile(n: number, set: (ring: Ring) => void, o: { beforeStop?: (ring: Ring) => void } = {}): Watchers {
  const watchers = new Watchers();
  let ring: Ring | undefined;
  before(async () => {
    ring = await startHosts(n);
    set(ring);
  });
  after(async () => {
    await watchers.killAll();
    if (ring) o.beforeStop?.(ring);
    await ring?.stop();
  });
  return watchers;
}
