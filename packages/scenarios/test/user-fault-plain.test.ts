import { userFaultPlainPath } from '@mmsim/rmap/internal';
import { VmEvent } from '@mmsim/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { numaBalancing } from '../src/builtin/numa-balancing.js';
import { pmbenchMigrate, runScenario, type Scenario } from '../src/index.js';
import { firstTouchesUnderMigration } from './first-touch-scenario.js';

/**
 * Three threads first-touching the same untouched pages (no set-up: every page is faulted
 * in by whichever thread comes first, the others find it mapped), while a migrator moves
 * what is mapped to node 1 and back.
 */
function firstTouchRace(): Scenario {
  return firstTouchesUnderMigration({
    name: 'first-touch-race',
    title: 'threads faulting in the same pages under migration',
    pages: 24,
    rounds: 4,
    cpus: [1, 2, 3],
    pattern: (cpu) => (cpu === 3 ? 'sequential' : 'random'),
    writeRatio: (cpu) => (cpu === 2 ? 0.2 : 0.7),
  });
}

function outcome(scenario: Scenario, seed: number, checkSteps: boolean, plain: boolean) {
  userFaultPlainPath.enabled = plain;
  const r = runScenario(scenario, { strategy: 'random', seed, checkSteps });
  return {
    error: r.error?.message ?? null,
    status: r.result?.status,
    steps: r.result?.steps,
    token: r.result?.replayToken,
    clocks: r.result?.cpuClocks,
    violations: r.violations.map((v) => v.message),
    figures: r.figures,
    pgfault: r.kernel.vmstat.vmEvent(VmEvent.PGFAULT),
    vmstat: r.kernel.vmstat.entries(),
  };
}

describe('the plain fault path of user accesses (userFault)', () => {
  afterEach(() => {
    userFaultPlainPath.enabled = true;
  });

  it('gives the steps, decisions, clocks, counters and results of doUserAddrFault as a generator', () => {
    const scenarios: Array<[Scenario, number[]]> = [
      [firstTouchRace(), [1, 2, 3, 4, 5, 6]],
      [pmbenchMigrate({ threads: 3, pages: 32, roundTrips: 1 }), [1, 2]],
      [numaBalancing(), [1, 2]],
    ];
    for (const [scenario, seeds] of scenarios) {
      for (const seed of seeds) {
        for (const checkSteps of [true, false]) {
          const plain = outcome(scenario, seed, checkSteps, true);
          const general = outcome(scenario, seed, checkSteps, false);
          expect(plain, `${scenario.name} seed ${seed}`).toEqual(general);
          expect(plain.error).toBeNull();
          expect(plain.status).toBe('completed');
          expect(plain.violations).toEqual([]);
          expect(plain.pgfault).toBeGreaterThan(0);
        }
      }
    }
  });
});
