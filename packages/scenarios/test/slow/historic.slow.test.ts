import { KERNEL_VARIANT_NAMES, type VariantName } from '@mmsim/kernel';
import { describe, expect, it } from 'vitest';
import {
  loopBhDeadlock,
  loopWritebackDeadlock,
  migrateUnderWrites,
  rfcLockOrder,
  type Scenario,
  splitLockDeadlock,
} from '../../src/index.js';
import { searchSchedules } from '../helpers.js';

/**
 * The long explorations: 10,000 schedules of each fixed variant, the buggy variants from
 * several far-apart seeds, and more schedules of migrate-under-writes. They form the
 * `slow` vitest project (`pnpm test:slow`), which the default test run leaves out.
 */

const MINUTES = 60_000;

const CASES: ReadonlyArray<[Scenario, VariantName, VariantName]> = [
  [rfcLockOrder(), 'rfc-2022', 'v6.3'],
  [loopBhDeadlock(), 'v6.3-rc1', 'v6.3'],
  [loopWritebackDeadlock(), 'v6.3-rc1', 'v6.3'],
  [splitLockDeadlock(), 'v6.10', 'v6.11'],
];

describe('historic deadlocks, at length', () => {
  for (const [scenario, buggy, fixed] of CASES) {
    it(`${scenario.name}@${fixed}: nothing in 10,000 schedules (5,000 random, 5,000 PCT)`, {
      timeout: 20 * MINUTES,
    }, () => {
      for (const strategy of ['random', 'pct'] as const) {
        const found = searchSchedules(scenario, fixed, {
          strategy,
          schedules: 5_000,
          seed: 100_000,
        });
        expect(found.first?.what ?? null).toBeNull();
        expect(found.inversionsWithoutDeadlock).toBe(0);
      }
    });

    it(`${scenario.name}@${buggy}: found within 10,000 schedules from every seed tried`, {
      timeout: 20 * MINUTES,
    }, () => {
      for (const seed of [1, 777, 31_337, 1_000_003, 2_000_000_011]) {
        for (const strategy of ['random', 'pct'] as const) {
          const found = searchSchedules(scenario, buggy, { strategy, schedules: 10_000, seed });
          expect(found.deadlocks, `${strategy} from seed ${seed}`).toBe(1);
          expect(found.failures).toBe(0);
        }
      }
    });
  }
});

describe('migrate-under-writes, at length', () => {
  for (const variant of KERNEL_VARIANT_NAMES) {
    it(`${variant}: nothing in 400 schedules (200 random, 200 PCT)`, {
      timeout: 20 * MINUTES,
    }, () => {
      for (const strategy of ['random', 'pct'] as const) {
        const found = searchSchedules(migrateUnderWrites(), variant, {
          strategy,
          schedules: 200,
          seed: 50_000,
        });
        expect(found.first?.what ?? null).toBeNull();
      }
    });
  }
});
