/**
 * Shared pieces of the tests that compare two implementations of a check on random
 * schedules (rmap-check-differential, lru-check-differential) or walk memory at random
 * (invariants-walks).
 */

/** A seeded generator (mulberry32): the tests' choices do not touch the kernel's streams. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a check gave: its problems, or the message of what it threw. */
export type Outcome = { readonly problems: readonly string[] } | { readonly threw: string };

/** Runs `check`, turning a throw into an outcome so that two checks compare either way. */
export function outcome(check: () => readonly string[]): Outcome {
  try {
    return { problems: check() };
  } catch (error) {
    return { threw: error instanceof Error ? error.message : String(error) };
  }
}
