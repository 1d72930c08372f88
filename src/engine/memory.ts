// What one link last pushed (or found identical) per path: lets a pusher skip a path whose local
// state has not changed since without asking the target, and lets a deliberate change to an
// older-dated file win (core/plan.ts). Bounded: the oldest entries are forgotten first, so memory
// follows recent activity, not the size of the tree; forgetting only costs one remote lstat.
import type { Entry } from '../core/types.js';

export class LinkMemory {
  private readonly map = new Map<string, Entry>();
  constructor(private readonly cap = 200_000) {}

  get(path: string): Entry | undefined {
    return this.map.get(path);
  }

  set(path: string, e: Entry): void {
    this.map.delete(path);
    this.map.set(path, e);
    if (this.map.size > this.cap) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }

  forget(path: string): void {
    this.map.delete(path);
  }

  /** forget a path and everything under it (a directory was removed or replaced) */
  forgetTree(path: string): void {
    this.map.delete(path);
    const prefix = path + '/';
    for (const k of this.map.keys()) if (k.startsWith(prefix)) this.map.delete(k);
  }

  get size(): number {
    return this.map.size;
  }
}
