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

  /**
   * A uniform integer in [min, max], both included: pure-rand's `uniformInt`, the same
   * numbers for the same state. For a range of at most 2^31 - 1 values from an int32 `min`
   * (every range the model draws) it is computed here: `uniformInt` takes the remainder of
   * a double, and so did this method's own `%` once its call sites had seen a non-small
   * operand (2^32 - 1 is one): a `%` on doubles is a call to C's fmod in V8, 40 to 50 ns
   * of a 60 ns draw. Both remainders (2^32 mod size, for the rejection bound, and the drawn
   * value's) are taken with `uint32Remainder`. Its rejection test (draw again while the
   * value is at or above the largest multiple of the range size below 2^32) and its
   * remainder are kept as they are.
   */
  int(min: number, max: number): number {
    const size = max - min + 1;
    if (size >= 1 && size <= 0x7fffffff && (size | 0) === size && (min | 0) === min) {
      // The largest multiple of `size` not above 2^32, minus one: 2^32 - 1 - (2^32 mod size).
      const limit = 0xffffffff - uint32Remainder(0x100000000, size);
      const rng = this.#rng;
      // pure-rand's `next() + 2^31` on an int32: the sign bit flipped, read unsigned.
      let value = (rng.next() ^ 0x80000000) >>> 0;
      while (value > limit) value = (rng.next() ^ 0x80000000) >>> 0;
      return uint32Remainder(value, size) + min;
    }
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

/**
 * `value % size` for an integer `value` in [0, 2^32] and an integer `size` in [1, 2^31 - 1],
 * without a remainder on doubles. The true quotient q + r / size (r < size) lies at least
 * 1 / size below the next integer, while rounding it to a double moves it by at most half a
 * unit in its last place: 2^-53 times the quotient, itself at most 2^32 / size, so at most
 * 2^-21 / size. The floor of the rounded quotient is then q, and `q * size` and the
 * difference are exact (integers below 2^33).
 */
function uint32Remainder(value: number, size: number): number {
  return value - Math.floor(value / size) * size;
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
export function deriveSeed(seed: number, name: string): number {
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
