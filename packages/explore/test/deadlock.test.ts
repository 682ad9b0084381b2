import { describe, expect, test } from 'vitest';
import { explore, formatFinding, replay } from '../src/index.js';
import { abba } from './targets.js';

describe('AB-BA deadlock', () => {
  test.each([1, 2, 3, 17, 12345])('random finds it within 300 schedules (seed %i)', (seed) => {
    const result = explore(abba(), { strategy: 'random', seed, schedules: 300 });
    expect(result.found).toBe(true);
    expect(result.kind).toBe('deadlock');
    expect(result.stoppedBy).toBe('finding');
    expect(result.schedules).toBeLessThanOrEqual(300);
    const f = result.finding!;
    expect(f.kind).toBe('deadlock');
    if (f.kind !== 'deadlock') return;
    expect(f.deadlock.cycle.map((e) => e.task.name)).toEqual(['ab', 'ba']);
    expect(f.deadlock.cycle.map((e) => e.resource)).toEqual(['mutex B', 'mutex A']);
  });

  test.each([1, 2, 3, 99])('PCT (depth 2) finds it within 300 schedules (seed %i)', (seed) => {
    const result = explore(abba(), { strategy: { kind: 'pct', depth: 2 }, seed, schedules: 300 });
    expect(result.kind).toBe('deadlock');
  });

  test('DFS with preemption bound 1 finds it; bound 0 cannot', () => {
    const one = explore(abba(), { strategy: { kind: 'dfs', preemptionBound: 1 } });
    expect(one.kind).toBe('deadlock');
    expect(one.finding!.shape.preemptions).toBeLessThanOrEqual(1);
    // Without preemptions, each task runs until it sleeps or ends: no deadlock.
    const zero = explore(abba(), { strategy: { kind: 'dfs', preemptionBound: 0 } });
    expect(zero.found).toBe(false);
    expect(zero.exhausted).toBe(true);
    expect(zero.stoppedBy).toBe('exhausted');
  });

  test('the fixed-order version: nothing found, and DFS exhausts its bounded space', () => {
    const random = explore(abba('same'), { strategy: 'random', schedules: 200 });
    expect(random.found).toBe(false);
    expect(random.stoppedBy).toBe('schedules');
    expect(random.schedules).toBe(200);
    expect(random.message).toMatch(/no finding in 200/);
    const dfs = explore(abba('same'), { strategy: { kind: 'dfs', preemptionBound: 2 } });
    expect(dfs.found).toBe(false);
    expect(dfs.exhausted).toBe(true);
    expect(dfs.stoppedBy).toBe('exhausted');
    expect(dfs.schedules).toBeGreaterThan(1);
    expect(dfs.message).toMatch(/exhausted/);
  });

  test('a schedule limit below the space size does not claim exhaustion', () => {
    const dfs = explore(abba('same'), {
      strategy: { kind: 'dfs', preemptionBound: 2 },
      schedules: 2,
    });
    expect(dfs.schedules).toBe(2);
    expect(dfs.exhausted).toBe(false);
    expect(dfs.stoppedBy).toBe('schedules');
  });

  test('the shrunk deadlock is no longer than the original and replays to the same cycle', () => {
    const result = explore(abba(), { strategy: 'random', seed: 5, schedules: 300 });
    const { before, after } = result.shrink!;
    expect(after.decisions).toBeLessThanOrEqual(before.decisions);
    expect(after.switches).toBeLessThanOrEqual(before.switches);
    expect(after.preemptions).toBeLessThanOrEqual(before.preemptions);
    expect(result.original!.shape).toEqual(before);
    // One preemption is all AB-BA needs.
    expect(after.preemptions).toBe(1);
    const again = replay(abba(), result.replay!);
    expect(again.finding).toEqual(result.finding);
    expect(formatFinding(again.finding!)).toBe(formatFinding(result.finding!));
  });
});
