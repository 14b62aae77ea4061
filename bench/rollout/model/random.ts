// Seeded randomness for the lab: every draw (NLB lags, arrivals, think times, routing picks)
// comes from a generator derived from the scenario's seed, so a seed reproduces a run's
// schedule. mulberry32: small, fast, good enough for simulation (not for anything secret).
export type Random = () => number

export function seededRandom(seed: number): Random {
  let a = seed >>> 0 || 0x9e3779b9
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** An independent stream for one purpose ("lag", "arrivals", ...), derived from the seed and a label. */
export function stream(seed: number, label: string): Random {
  let h = 0x811c9dc5 ^ (seed >>> 0)
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return seededRandom(h >>> 0)
}

/** Exponential draw with the given mean. */
export function exponential(random: Random, mean: number): number {
  return -Math.log(1 - random()) * mean
}
