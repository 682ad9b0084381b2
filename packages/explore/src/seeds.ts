/**
 * The seed of schedule `index` of an exploration seeded with `seed`: a murmur3-style mix
 * of both, so neighbouring explorations (seed 1 and seed 2) share no schedule, and the
 * same pair always gives the same seed (an unsigned 32-bit integer).
 */
export function scheduleSeed(seed: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
