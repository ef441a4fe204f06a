/**
 * Did-you-mean: the closest allowed name to a misspelt one, by edit distance.
 */

/** Damerau-Levenshtein (optimal string alignment) distance, case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase()
  const t = b.toLowerCase()
  const d: number[][] = Array.from({length: s.length + 1}, (_, i) => [i, ...new Array<number>(t.length).fill(0)])
  for (let j = 1; j <= t.length; j++) d[0]![j] = j
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1)
      d[i]![j] = v
    }
  }
  return d[s.length]![t.length]!
}

/**
 * The candidate closest to `word`, if it is close enough to be a plausible typo: within a third of
 * the word's length (at least 2 edits for short words), or differing only in `-`/`_` and case.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_\s]/g, '')
  let best: string | undefined
  let bestDist = Infinity
  for (const c of candidates) {
    if (c === word) continue
    const dist = norm(c) === norm(word) ? 0 : editDistance(word, c)
    if (dist < bestDist) {
      best = c
      bestDist = dist
    }
  }
  if (best === undefined) return undefined
  const limit = Math.max(2, Math.floor(word.length / 3))
  return bestDist <= limit ? best : undefined
}
