// Move detection inside one batch: a path that vanished here (its old copy still on the target) and
// a path that appeared here (absent on the target) with the same size, mtime and mode are one file
// that moved, so the target renames instead of receiving the bytes again. Only unambiguous pairs
// are taken: when several candidates share a signature, the same basename decides, else they are
// copied (correct, just slower) — a wrong pairing would put one file's content under another name.
import type { Entry } from './types.js';

export interface MoveCandidate {
  path: string;
  entry: Entry;
}

export interface Move {
  from: string;
  to: string;
}

function key(e: Entry): string | null {
  // empty files all look alike; renaming one for another gains nothing
  return e.type === 'file' && e.size > 0 ? `${e.size}:${e.mtime}:${e.mode}` : null;
}

function basename(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** gone: deleted locally, entry = what the target still has; born: new locally, entry = the local entry */
export function pairMoves(gone: MoveCandidate[], born: MoveCandidate[]): Move[] {
  const byKey = new Map<string, { gone: MoveCandidate[]; born: MoveCandidate[] }>();
  const slot = (k: string) => byKey.get(k) ?? byKey.set(k, { gone: [], born: [] }).get(k)!;
  for (const g of gone) {
    const k = key(g.entry);
    if (k) slot(k).gone.push(g);
  }
  for (const b of born) {
    const k = key(b.entry);
    if (k && byKey.has(k)) slot(k).born.push(b);
  }
  const moves: Move[] = [];
  for (const { gone: gs, born: bs } of byKey.values()) {
    if (gs.length === 0 || bs.length === 0) continue;
    if (gs.length === 1 && bs.length === 1) {
      moves.push({ from: gs[0].path, to: bs[0].path });
      continue;
    }
    // ambiguous: pair only names that are unique on both sides
    const count = (xs: MoveCandidate[]) => {
      const m = new Map<string, number>();
      for (const x of xs) m.set(basename(x.path), (m.get(basename(x.path)) ?? 0) + 1);
      return m;
    };
    const gc = count(gs);
    const bc = count(bs);
    for (const g of gs) {
      const n = basename(g.path);
      if (gc.get(n) !== 1 || bc.get(n) !== 1) continue;
      const b = bs.find((x) => basename(x.path) === n)!;
      moves.push({ from: g.path, to: b.path });
    }
  }
  return moves;
}
