import type { VariantName } from '@mmsim/kernel';
import {
  exploreScenario,
  loopBhDeadlock,
  loopWritebackDeadlock,
  rfcLockOrder,
  type Scenario,
  splitLockDeadlock,
} from '@mmsim/scenarios';
import type { BenchResult } from './bench-result.js';

const SEEDS = [1, 2, 3, 4, 5];

/** The historic scenarios, each in the variant that had the bug. */
const HISTORIC: ReadonlyArray<{ scenario: () => Scenario; buggy: VariantName }> = [
  { scenario: () => rfcLockOrder(), buggy: 'rfc-2022' },
  { scenario: () => loopBhDeadlock(), buggy: 'v6.3-rc1' },
  { scenario: () => loopWritebackDeadlock(), buggy: 'v6.3-rc1' },
  { scenario: () => splitLockDeadlock(), buggy: 'v6.10' },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * For each historic scenario in its buggy variant: explore with PCT from five seeds until
 * the first deadlock (the page-lock inversion check is disabled so that the search runs to
 * the deadlock itself); report the median wall-clock time to that finding, the median
 * number of schedules it took, and the median schedules per second.
 */
export function scenarioBenchmarks(): BenchResult[] {
  const results: BenchResult[] = [];
  for (const { scenario, buggy } of HISTORIC) {
    const s = scenario();
    const times: number[] = [];
    const counts: number[] = [];
    const rates: number[] = [];
    for (const seed of SEEDS) {
      const start = process.hrtime.bigint();
      const r = exploreScenario(s, {
        variant: buggy,
        strategy: 'pct',
        schedules: 10_000,
        seed,
        shrink: false,
        disable: ['page-lock-inversion'],
      });
      if (!r.found || r.kind !== 'deadlock') {
        throw new Error(
          `${s.name}@${buggy} seed ${seed}: expected a deadlock, got ${r.kind ?? 'nothing'}`,
        );
      }
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
      counts.push(r.schedules);
      if (r.schedulesPerSecond !== undefined) rates.push(r.schedulesPerSecond);
    }
    results.push({
      name: `scenario.${s.name}.time_to_first_deadlock_ms`,
      value: median(times),
      unit: 'ms',
      better: 'lower',
      description: `PCT exploration of ${s.name} in ${buggy} until the first deadlock, median over seeds ${SEEDS.join(', ')} (no shrinking).`,
      detail: {
        medianSchedules: median(counts),
        medianSchedulesPerSec: rates.length > 0 ? median(rates) : 0,
        variant: buggy,
      },
    });
  }
  return results;
}
