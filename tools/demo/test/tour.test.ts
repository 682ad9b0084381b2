import { formatFinding, replay } from '@mmsim/explore';
import { rfcLockOrder, scenarioTarget } from '@mmsim/scenarios';
import { expect, test } from 'vitest';
import { hunt, pmbench } from '../src/tour.js';

test('pmbench-migrate: v6.3 sends at most 1% of the IPIs of v6.2 and migrates faster', () => {
  const old = pmbench('v6.2');
  const now = pmbench('v6.3');
  expect(old.clean && now.clean).toBe(true);
  expect(now.pagesMigrated).toBe(old.pagesMigrated);
  expect(now.ipis * 100).toBeLessThanOrEqual(old.ipis);
  expect(now.pagesPerSecond).toBeGreaterThan(old.pagesPerSecond);
});

test('the RFC variant deadlocks under exploration, 6.3 does not', () => {
  const rfc = hunt('rfc-2022', 200);
  expect(rfc.found).toBe(true);
  expect(rfc.report).toContain('wait-for cycle');
  expect(rfc.replay).toMatch(/^mmsim1\./);
  expect(hunt('v6.3', 100).found).toBe(false);
});

test("the tour's replay token replays the deadlock it found, not the inversion", () => {
  const rfc = hunt('rfc-2022', 1000);
  expect(rfc.found).toBe(true);
  const again = replay(scenarioTarget(rfcLockOrder(), { variant: 'rfc-2022' }), rfc.replay!);
  expect(again.finding?.kind).toBe('deadlock');
  expect(formatFinding(again.finding!).split('\nreplay:')[0]).toBe(rfc.report);
});
