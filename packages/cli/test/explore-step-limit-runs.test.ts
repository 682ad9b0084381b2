import { describe, expect, test } from 'vitest';
import { mmsim } from './support/mmsim.js';

/** `mmsim explore --json` counts the schedules that ran into the step limit. */
describe('explore --json stepLimitRuns', () => {
  const explore = (extra: readonly string[]) =>
    mmsim(['explore', 'rfc-lock-order', '--variant', 'v6.3', '--json', ...extra]);

  test('a schedule longer than --max-steps is counted in stepLimitRuns', () => {
    const r = explore(['--max-steps', '20', '--schedules', '5']);
    expect(r.code).toBe(1);
    const json = JSON.parse(r.stdout);
    expect(json).toMatchObject({ found: true, kind: 'step-limit', stepLimitRuns: 1 });
    expect(json.stepLimitRuns).toBe(json.findingsByKind['step-limit']);
  });

  test('a search without a step-limit run reports stepLimitRuns 0', () => {
    const r = explore(['--schedules', '5']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ found: false, stepLimitRuns: 0 });
  });
});
