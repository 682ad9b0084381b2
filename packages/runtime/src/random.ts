import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { checkInt } from './errors.js';

/** Largest seed accepted: seeds are unsigned 32-bit integers. */
export const MAX_SEED = 0xffff_ffff;

/**
 * One seeded random stream (xoroshiro128+ from pure-rand). Each purpose (schedule,
 * workload, faults) has its own stream, so drawing more numbers for one purpose never
 * shifts the numbers another purpose sees: enabling fault injection does not change the
 * schedule a seed gives.
 */
export class RandomStream {
  readonly name: string;
  readonly #rng: RandomGenerator;

  constructor(name: string, seed: number) {
    checkInt('seed', seed, 0, MAX_SEED);
    this.name = name;
    this.#rng = xoroshiro128plus(deriveSeed(seed, name));
  }

  /** A uniform integer in [min, max], both included. */
  int(min: number, max: number): number {
    return uniformInt(this.#rng, min, max);
  }

  /** A uniform float in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.#rng.next() >>> 5; // 27 bits
    const lo = this.#rng.next() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return p >= 1 || (p > 0 && this.float() < p);
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T;
  }

  /** Fisher-Yates shuffle in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
}

/** The streams every run has. Others can be made with `new RandomStream(name, seed)`. */
export interface RandomStreams {
  readonly seed: number;
  /** Scheduling decisions of the random and PCT strategies. */
  readonly schedule: RandomStream;
  /** Workload choices of scenario actors (addresses, patterns). */
  readonly workload: RandomStream;
  /** Fault-point decisions. */
  readonly faults: RandomStream;
}

export function createRandomStreams(seed: number): RandomStreams {
  return {
    seed,
    schedule: new RandomStream('schedule', seed),
    workload: new RandomStream('workload', seed),
    faults: new RandomStream('faults', seed),
  };
}

/**
 * Mixes the run seed with the stream name (FNV-1a, then a murmur3 finaliser) so streams of
 * one seed are unrelated and the same (seed, name) always gives the same stream.
 */
function deriveSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}
