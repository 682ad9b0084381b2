import { describe, expect, test } from 'vitest';
import { EXIT_FINDING, EXIT_OK, EXIT_USAGE } from '../src/index.js';
import { mmsim } from './support/mmsim.js';

describe('mmsim explore --strategy dpor', () => {
  test('dpor:0 exhausts rfc-lock-order in v6.3 and prints the guarantee (exit 0)', () => {
    const json = mmsim([
      'explore',
      'rfc-lock-order',
      '--variant',
      'v6.3',
      '--strategy',
      'dpor:0',
      '--json',
    ]);
    expect(json.code).toBe(EXIT_OK);
    const r = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(r).toMatchObject({ strategy: 'dpor:0', found: false, exhausted: true, bound: 0 });
    expect(r.executions).toBe(r.schedules);
    expect(typeof r.classes).toBe('number');
    const text = mmsim(['explore', 'rfc-lock-order', '--variant', 'v6.3', '--strategy', 'dpor:0']);
    expect(text.code).toBe(EXIT_OK);
    expect(text.stdout).toContain(
      `exhausted: every schedule up to preemption bound 0 explored — ${r.executions} executions covering ${r.classes} interleaving classes`,
    );
  });

  test('with --time-budget and no --schedules a dpor or dfs search has no schedule limit', () => {
    const args = ['explore', 'rfc-lock-order', '--variant', 'v6.3', '--json'];
    const capped = JSON.parse(mmsim([...args, '--strategy', 'dpor:0']).stdout);
    expect(capped.scheduleLimit).toBe(100_000);
    for (const strategy of ['dpor:0', 'dfs:0']) {
      const budget = JSON.parse(
        mmsim([...args, '--strategy', strategy, '--time-budget', '600']).stdout,
      );
      expect(budget).toMatchObject({ scheduleLimit: 1e9, exhausted: true, stoppedBy: 'exhausted' });
    }
    // --schedules still caps a budgeted search.
    const both = JSON.parse(
      mmsim([...args, '--strategy', 'dpor:1', '--time-budget', '600', '--schedules', '3']).stdout,
    );
    expect(both).toMatchObject({ scheduleLimit: 3, schedules: 3, stoppedBy: 'schedules' });
    // Random and PCT keep their default of 1000 (a tiny budget stops it after a schedule).
    const random = JSON.parse(mmsim([...args, '--workers', '1', '--time-budget', '0.001']).stdout);
    expect(random).toMatchObject({ scheduleLimit: 1000, stoppedBy: 'time' });
  });

  test('dfs prints the same guarantee line when exhausted', () => {
    const text = mmsim(['explore', 'rfc-lock-order', '--variant', 'v6.3', '--strategy', 'dfs:0']);
    expect(text.code).toBe(EXIT_OK);
    expect(text.stdout).toMatch(
      /exhausted: every schedule up to preemption bound 0 explored — \d+ executions covering \d+ interleaving classes/,
    );
  });

  test('dpor finds the deadlock of loop-bh-deadlock in v6.3-rc1 (exit 1)', () => {
    const r = mmsim(['explore', 'loop-bh-deadlock', '--strategy', 'dpor:2', '--json']);
    expect(r.code).toBe(EXIT_FINDING);
    expect(JSON.parse(r.stdout)).toMatchObject({ found: true, bound: 2, exhausted: false });
  });

  test('pct prints its guarantee, in the text and the JSON', () => {
    const args = [
      'explore',
      'rfc-lock-order',
      '--variant',
      'v6.3',
      '--strategy',
      'pct',
      '--schedules',
      '20',
    ];
    const text = mmsim(args);
    expect(text.code).toBe(EXIT_OK);
    expect(text.stdout).toMatch(
      /pct guarantee: a bug of depth 3 is found with probability >= \S+ per schedule/,
    );
    const json = JSON.parse(mmsim([...args, '--json']).stdout) as { pct: Record<string, number> };
    expect(json.pct.depth).toBe(3);
    expect(json.pct.cumulative).toBeGreaterThan(0);
  });

  test.each([['dpor:x'], ['dpor:'], ['dpor:-1']])('--strategy %s is bad usage (exit 2)', (s) => {
    const r = mmsim(['explore', 'rfc-lock-order', '--strategy', s]);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toMatch(
      /--strategy must be random, pct\[:DEPTH\], dfs\[:PREEMPTION_BOUND\] or dpor/,
    );
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
