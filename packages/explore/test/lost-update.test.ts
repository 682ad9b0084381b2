import { describe, expect, test } from 'vitest';
import { explore, replay, shrink } from '../src/index.js';
import { COUNTER_INVARIANT, lostUpdate } from './targets.js';

describe('lost update', () => {
  test('random finds the failed invariant; the shrunk schedule is no longer and still fails', () => {
    for (const seed of [1, 2, 3, 4]) {
      const result = explore(lostUpdate(), { seed, schedules: 300 });
      expect(result.kind).toBe('invariant');
      expect(result.invariant).toBe(COUNTER_INVARIANT);
      expect(result.message).toMatch(/counter is \d+ after \d+ increments/);
      const before = result.original!.shape;
      const after = result.finding!.shape;
      expect(after.decisions).toBeLessThanOrEqual(before.decisions);
      expect(after.switches).toBeLessThanOrEqual(before.switches);
      expect(after.preemptions).toBeLessThanOrEqual(before.preemptions);
      expect(after.steps).toBeLessThanOrEqual(before.steps);
      // The unrelated task is gone, and one preemption between a read and its write is left.
      expect(result.finding!.steps!.some((s) => s.task?.name === 'noise')).toBe(false);
      expect(after.preemptions).toBe(1);
      // Replaying the shrunk token gives the same failure, step for step, event for event.
      const again = replay(lostUpdate(), result.replay!);
      expect(again.finding).toEqual(result.finding);
      expect(again.steps).toEqual(result.finding!.steps);
      expect(again.result).toBeNull(); // the check stopped the run
      // The original token also still fails the same way.
      const first = replay(lostUpdate(), result.original!.replay);
      expect(first.finding?.kind).toBe('invariant');
      expect(first.shape).toEqual(before);
    }
  });

  test('the schedule that fails is a real interleaving: in-order runs pass', () => {
    // DFS bound 0 includes the in-order schedules; none loses an update.
    const result = explore(lostUpdate(), { strategy: { kind: 'dfs', preemptionBound: 0 } });
    expect(result.found).toBe(false);
    expect(result.exhausted).toBe(true);
    const one = explore(lostUpdate(), { strategy: { kind: 'dfs', preemptionBound: 1 } });
    expect(one.invariant).toBe(COUNTER_INVARIANT);
  });

  test('the same options give the same result', () => {
    const strip = (r: ReturnType<typeof explore>) => ({
      ...r,
      elapsedMs: 0,
      schedulesPerSecond: 0,
    });
    for (const strategy of ['random', { kind: 'pct', depth: 2 }, 'dfs'] as const) {
      const a = explore(lostUpdate(), { seed: 7, strategy });
      const b = explore(lostUpdate(), { seed: 7, strategy });
      expect(strip(a)).toEqual(strip(b));
    }
    const all = (seed: number) =>
      strip(explore(lostUpdate(), { seed, schedules: 40, stopOnFirst: false, shrink: false }));
    expect(all(11)).toEqual(all(11));
  });

  test('schedule seeds differ between schedules and between exploration seeds', () => {
    const seeds = new Set<number>();
    for (const seed of [1, 2]) {
      const r = explore(lostUpdate(), { seed, schedules: 1, disable: [COUNTER_INVARIANT] });
      expect(r.found).toBe(false);
      const f = explore(lostUpdate(), { seed, schedules: 300 });
      seeds.add(f.original!.seed);
    }
    expect(seeds.size).toBe(2);
  });

  test('stopOnFirst: false keeps searching and counts every failing schedule', () => {
    const result = explore(lostUpdate(), { seed: 3, schedules: 100, stopOnFirst: false });
    expect(result.schedules).toBe(100);
    expect(result.stoppedBy).toBe('schedules');
    expect(result.findings).toBeGreaterThan(1);
    expect(result.findingsByKind.invariant).toBe(result.findings);
    expect(result.invariant).toBe(COUNTER_INVARIANT);
  });

  test('disabling the invariant by name hides its finding', () => {
    const result = explore(lostUpdate(), {
      seed: 1,
      schedules: 300,
      disable: [COUNTER_INVARIANT],
    });
    expect(result.found).toBe(false);
    expect(result.schedules).toBe(300);
  });

  test('shrink() on its own, with a budget, never returns a longer schedule', () => {
    const result = explore(lostUpdate(), { seed: 2, schedules: 300, shrink: false });
    expect(result.shrink).toBeNull();
    expect(result.finding).toEqual({ ...result.original, steps: result.finding!.steps });
    for (const maxReplays of [0, 1, 3, 50]) {
      const s = shrink(lostUpdate(), result.original!, { maxReplays });
      expect(s.replays).toBeLessThanOrEqual(maxReplays + 2);
      expect(s.after.decisions).toBeLessThanOrEqual(s.before.decisions);
      expect(s.after.switches).toBeLessThanOrEqual(s.before.switches);
      expect(s.after.preemptions).toBeLessThanOrEqual(s.before.preemptions);
      expect(s.finding.kind).toBe('invariant');
      if (maxReplays === 0) expect(s.after).toEqual(s.before);
    }
  });
});
