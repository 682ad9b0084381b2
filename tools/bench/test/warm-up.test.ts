import { describe, expect, test } from 'vitest';
import {
  nextRoundSchedules,
  type WarmUpLimits,
  type WarmUpRound,
  warmUpVerdict,
} from '../src/warm-up.js';

const limits: WarmUpLimits = {
  maxFall: 0.05,
  maxRise: 0.1,
  levelRounds: 1,
  minSchedules: 20,
  maxCpuMs: 12_000,
  maxWallMs: 40_000,
};

/** Rounds of `schedules` each at these CPU µs per schedule. */
const rounds = (schedules: number, ...us: number[]): WarmUpRound[] =>
  us.map((u) => ({ schedules, cpuMs: (schedules * u) / 1000 }));

describe('warmUpVerdict', () => {
  test('a rate still falling by more than maxFall goes on', () => {
    // rfc-lock-order in a fresh process: chunks of 500 at 1,700, 540, 360 µs.
    expect(warmUpVerdict(rounds(500, 1700, 540, 360), 3000, limits)).toBe('continue');
    // stale-dst-mapping under load: 928 then 866 µs (7 % faster), steady at 590.
    expect(warmUpVerdict(rounds(500, 1850, 928, 866), 3000, limits)).toBe('continue');
    expect(warmUpVerdict(rounds(500, 300, 284), 3000, limits)).toBe('continue');
  });

  test('a last round at most maxFall faster or maxRise slower has levelled', () => {
    expect(warmUpVerdict(rounds(500, 1700, 540, 230, 220), 4000, limits)).toBe('levelled');
    expect(warmUpVerdict(rounds(500, 300, 286), 3000, limits)).toBe('levelled');
    expect(warmUpVerdict(rounds(500, 300, 300), 3000, limits)).toBe('levelled');
    expect(warmUpVerdict(rounds(500, 300, 329), 3000, limits)).toBe('levelled');
  });

  test('with levelRounds 2 the last round must be level with each of the two before it', () => {
    const two = { ...limits, levelRounds: 2 };
    // tiering under load: 1,698, 1,023, 1,061 µs (a slow round), then timed at 807.
    expect(warmUpVerdict(rounds(500, 1698, 1023, 1061), 3000, two)).toBe('continue');
    expect(warmUpVerdict(rounds(500, 1698, 1023, 1061), 3000, limits)).toBe('levelled');
    expect(warmUpVerdict(rounds(500, 1023, 1061, 1010), 3000, two)).toBe('levelled');
    // Level with the round before, 6 % faster than the one before that.
    expect(warmUpVerdict(rounds(500, 1064, 1010, 1000), 3000, two)).toBe('continue');
    // Two rounds are not enough to compare the last with two.
    expect(warmUpVerdict(rounds(500, 1000, 1000), 3000, two)).toBe('continue');
  });

  test('a round slower by more than maxRise (load, a collection) is no level', () => {
    expect(warmUpVerdict(rounds(500, 300, 340), 3000, limits)).toBe('continue');
  });

  test('the rate is per schedule: rounds of different sizes compare by CPU per schedule', () => {
    const a = { schedules: 1000, cpuMs: 250 };
    const b = { schedules: 4000, cpuMs: 1000 };
    expect(warmUpVerdict([a, b], 3000, limits)).toBe('levelled');
    expect(warmUpVerdict([a, { schedules: 4000, cpuMs: 900 }], 3000, limits)).toBe('continue');
    expect(warmUpVerdict([a, { schedules: 4000, cpuMs: 2000 }], 3000, limits)).toBe('continue');
  });

  test('one round, or fewer than minSchedules, never levels', () => {
    expect(warmUpVerdict(rounds(500, 200), 1000, limits)).toBe('continue');
    expect(warmUpVerdict(rounds(5, 9000, 9000), 1000, limits)).toBe('continue');
    expect(warmUpVerdict(rounds(10, 9000, 9000), 1000, limits)).toBe('levelled');
  });

  test('a round of no schedules is skipped, not read as a rate', () => {
    const empty = { schedules: 0, cpuMs: 5 };
    expect(warmUpVerdict([...rounds(500, 300, 290), empty], 3000, limits)).toBe('levelled');
    expect(warmUpVerdict([...rounds(500, 600, 290), empty], 3000, limits)).toBe('continue');
  });

  test('the caps end a warm-up that has not levelled, by CPU or by wall time', () => {
    const falling = rounds(10_000, 800, 600, 450); // 18.5 s of CPU
    expect(warmUpVerdict(falling, 20_000, limits)).toBe('capped');
    const short = rounds(1000, 800, 600); // 1.4 s of CPU
    expect(warmUpVerdict(short, 39_999, limits)).toBe('continue');
    expect(warmUpVerdict(short, 40_000, limits)).toBe('capped');
    // Levelled wins over a cap reached in the same round.
    expect(warmUpVerdict(rounds(10_000, 800, 790), 50_000, limits)).toBe('levelled');
  });
});

describe('nextRoundSchedules', () => {
  test('about roundCpuMs at the last round with schedules, `first` before any', () => {
    expect(nextRoundSchedules([], 1000, 7)).toBe(7);
    expect(nextRoundSchedules(rounds(500, 1700, 250), 1000, 7)).toBe(4000);
    expect(nextRoundSchedules([...rounds(500, 500), { schedules: 0, cpuMs: 3 }], 1000, 7)).toBe(
      2000,
    );
    // A schedule of more than a round still runs alone.
    expect(nextRoundSchedules(rounds(10, 5_000_000), 1000, 7)).toBe(1);
  });
});
