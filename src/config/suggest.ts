// "did you mean …?" for misspelt keys and values: the closest candidate by edit distance
// (Levenshtein plus swaps of neighbours), compared case- and separator-insensitively so
// "known_hosts" finds "knownHosts".

/** Edit distance counting a swap of two neighbours as one edit ("prot" → "port" is 1), since that is the commonest typo. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

const fold = (s: string): string => s.toLowerCase().replace(/[-_\s]/g, '');

/** The candidate closest to word, or undefined when none is close enough to be a plausible typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = fold(word);
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(w, fold(c));
    if (d < bestD) [best, bestD] = [c, d];
  }
  // A third of the word's length (at least 1, at most 3) keeps "intervall"→"interval" and
  // drops "foo"→"root".
  const limit = Math.min(3, Math.max(1, Math.floor(w.length / 3)));
  return bestD <= limit ? best : undefined;
}
