/** "Did you mean": the known name closest to a misspelt one, for unknown fields and step kinds. */

/**
 * Edit distance with adjacent transpositions (optimal string alignment): `stpes` is one edit from
 * `steps`, as a person counts, where plain Levenshtein counts two.
 */
export function editDistance(a: string, b: string): number {
  // Three rows suffice: the transposition looks two rows back.
  let before = new Array<number>(b.length + 1).fill(0);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      cur.push(d);
    }
    before = prev;
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The candidate nearest to `name`, ignoring case, if it is near enough to be a typo: one edit in
 * a name of up to three characters, two in a longer one, one in three in a long one; so `alfa`
 * finds `alpha` and `id` does not find `min`. Ties go to the earlier candidate.
 */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  const limit = name.length <= 3 ? 1 : Math.max(2, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : undefined;
}
