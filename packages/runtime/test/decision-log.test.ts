import { describe, expect, test } from 'vitest';
import { DecisionLog } from '../src/internal.js';
import { RandomStream } from '../src/random.js';

/** The log as first written: a plain array of pairs, pushed as runs of a choice end. */
function referencePairs(choices: readonly number[]): number[] {
  const pairs: number[] = [];
  for (const id of choices) {
    const n = pairs.length;
    if (n > 0 && pairs[n - 2] === id) pairs[n - 1] = (pairs[n - 1] as number) + 1;
    else pairs.push(id, 1);
  }
  return pairs;
}

/** Choices with runs: mostly a switch, sometimes the same task again (a few tasks). */
function randomChoices(rng: RandomStream, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(i > 0 && rng.chance(0.3) ? (out[i - 1] as number) : rng.int(1, 6));
  }
  return out;
}

describe('DecisionLog', () => {
  test('pairs equal the reference, log after log and with logs alive side by side', () => {
    const rng = new RandomStream('test', 3);
    // Sizes around the buffer's first size and its doublings, and empty logs.
    const sizes = [0, 1, 2, 127, 128, 129, 255, 256, 257, 600, 3000, 5, 0, 1000];
    for (const n of sizes) {
      const choices = randomChoices(rng, n);
      // Another log fills while this one does: neither sees the other's pairs.
      const other = randomChoices(rng, rng.int(0, 700));
      const log = new DecisionLog();
      const side = new DecisionLog();
      for (let i = 0; i < Math.max(n, other.length); i++) {
        if (i < n) log.record(choices[i] as number);
        if (i < other.length) side.record(other[i] as number);
      }
      expect(log.length).toBe(n);
      expect(Array.from(log.finish())).toEqual(referencePairs(choices));
      expect(Array.from(side.finish())).toEqual(referencePairs(other));
    }
  });

  test('finish gives pairs of their own and ends the log', () => {
    const log = new DecisionLog();
    for (const id of [1, 1, 2]) log.record(id);
    const pairs = log.finish();
    expect(Array.from(pairs)).toEqual([1, 2, 2, 1]);
    // The next log reuses the buffer: the finished pairs are not overwritten.
    const next = new DecisionLog();
    for (const id of [5, 5, 5, 6, 7, 8]) next.record(id);
    expect(Array.from(next.finish())).toEqual([5, 3, 6, 1, 7, 1, 8, 1]);
    expect(Array.from(pairs)).toEqual([1, 2, 2, 1]);
    expect(log.length).toBe(3);
    expect(() => log.record(2)).toThrow(/finished/);
    expect(() => log.finish()).toThrow(/finished/);
  });

  test('a log outgrowing its buffer while short logs finish keeps every pair', () => {
    // The short logs leave small buffers behind: the long log must not take one too small.
    const rng = new RandomStream('test', 9);
    const long = new DecisionLog();
    const all: number[] = [];
    for (let round = 0; round < 12; round++) {
      for (const id of randomChoices(rng, 300)) {
        long.record(id);
        all.push(id);
      }
      const short = new DecisionLog();
      const few = randomChoices(rng, 20);
      for (const id of few) short.record(id);
      expect(Array.from(short.finish())).toEqual(referencePairs(few));
    }
    expect(Array.from(long.finish())).toEqual(referencePairs(all));
  });
  test('pairs of their own on both sides of the plain-array copy limit (512 numbers)', () => {
    // Short pairs are copied into a plain array, long ones into a typed array: either way
    // the next log, which takes the buffer over, must not change them.
    for (const pairCount of [255, 256, 257, 2000]) {
      const choices: number[] = [];
      for (let i = 0; i < pairCount; i++) choices.push(1 + (i % 3), 1 + (i % 3));
      const log = new DecisionLog();
      for (const id of choices) log.record(id);
      const pairs = log.finish();
      expect(pairs.length).toBe(2 * pairCount);
      const next = new DecisionLog();
      for (let i = 0; i < 2 * choices.length; i++) next.record(9 + (i % 2));
      next.finish();
      expect(Array.from(pairs)).toEqual(referencePairs(choices));
    }
  });
});
