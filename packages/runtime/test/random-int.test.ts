import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { describe, expect, test } from 'vitest';
import { deriveSeed, RandomStream } from '../src/random.js';

/*
 * `RandomStream.int` computes small ranges itself, in 32-bit unsigned arithmetic: it must
 * give pure-rand's `uniformInt` numbers, draw for draw (the schedules and workloads of every
 * seed, and so the replay tokens, depend on them).
 */
describe('RandomStream.int', () => {
  /** The stream's numbers and `uniformInt`'s on a generator of the same seed, side by side. */
  function both(seed: number, ranges: readonly (readonly [number, number])[], rounds: number) {
    const stream = new RandomStream('schedule', seed);
    const reference = xoroshiro128plus(deriveSeed(seed, 'schedule'));
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const [min, max] of ranges) {
        ours.push(stream.int(min, max));
        theirs.push(uniformInt(reference, min, max));
      }
    }
    return { ours, theirs };
  }

  test('small ranges, odd and power-of-two sizes, negative bounds: the same numbers', () => {
    const ranges = [
      [0, 0],
      [0, 1],
      [0, 2],
      [0, 3],
      [1, 6],
      [-5, 5],
      [0, 999],
      [-2147483648, -2147483600],
      [7, 7 + 65535],
    ] as const;
    for (const seed of [0, 1, 7, 1000, 0xffffffff]) {
      const { ours, theirs } = both(seed, ranges, 200);
      expect(ours).toEqual(theirs);
    }
  });

  test('sizes near 2^31, where most draws are rejected and drawn again, and larger ranges', () => {
    // 2^31 - 1 values: the largest size computed here (about half the draws rejected);
    // 2^31 + 1 and 2^32: left to uniformInt.
    const ranges = [
      [0, 0x7ffffffe],
      [0, 0x40000000],
      [0, 0x7fffffff],
      [0, 0x80000000],
      [-1, 0xfffffffe],
      [0, 2 ** 40],
      [1.5, 4],
    ] as const;
    for (const seed of [3, 99]) {
      const { ours, theirs } = both(seed, ranges, 300);
      expect(ours).toEqual(theirs);
    }
  });
  test('every size to 700 and sizes whose 2^32 remainder is extreme: the same numbers', () => {
    // Both remainders (2^32 mod size, and the drawn value's) are computed without a `%`:
    // sizes of every residue, 641 and 6,700,417 (2^32 mod size = size - 1: the bound just
    // below a multiple), powers of two and their neighbours, alternating from draw to draw.
    const ranges: [number, number][] = [];
    for (let size = 1; size <= 700; size++) ranges.push([0, size - 1]);
    for (const size of [
      641,
      6700417,
      2 ** 16 - 1,
      2 ** 16,
      2 ** 16 + 1,
      2 ** 30 + 1,
      2 ** 31 - 1,
    ]) {
      ranges.push([-3, size - 4]);
    }
    const { ours, theirs } = both(11, ranges, 6);
    expect(ours).toEqual(theirs);
  });
});
