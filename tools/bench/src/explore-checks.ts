import { type ExplorationTarget, explore } from '@mmsim/explore';
import type { Invariant, InvariantPhase, RunResult } from '@mmsim/runtime';
import {
  builtinScenarios,
  DEFAULT_INVARIANT_STRIDE,
  kernelInvariants,
  scenarioTarget,
} from '@mmsim/scenarios';
import { fixedVariant } from './explore.js';
import type { BenchResult } from './measure.js';

/** The scenarios measured: the four historic ones and migrate-under-writes. */
const SCENARIOS = [
  'rfc-lock-order',
  'loop-bh-deadlock',
  'loop-writeback-deadlock',
  'split-lock-deadlock',
  'migrate-under-writes',
];
/** Schedules explored per scenario. */
const SCHEDULES = 150;
/** Each measured check is repeated this often on the same state (its cost is the mean). */
const REPEATS = 10;

/** The invariants that walk all of memory (checked every `stride`-th step and at the end). */
const STRIDED: ReadonlySet<string> = new Set([
  'lru-consistent',
  'rmap-consistent',
  'memmap-consistent',
  'frames-conserved',
]);

/** The invariants checked only at the end (their step call returns at once). */
const END_ONLY: ReadonlySet<string> = new Set(['no-lock-held-at-end', 'no-migration-entry-at-end']);

interface Cost {
  step: number;
  stepUs: number;
  end: number;
  endUs: number;
}

/**
 * What the kernel invariants cost per schedule, and where: for each scenario in its fixed
 * variant, random schedules are explored as `explore` runs them; after every step and at
 * the end, a second set of the kernel's invariants built with stride 1 (so each call
 * scans) is timed on the same state, `REPEATS` times in a row (not part of the
 * exploration's verdict). Figures per scenario: the scans per schedule and the wall
 * microseconds per schedule the kernel invariants cost at the default stride (a scan's
 * mean cost times the scans the default stride makes: every step and the end for the
 * cheap invariants, every `DEFAULT_INVARIANT_STRIDE`-th step and the end for those that
 * walk memory, the end only for the end checks); `detail` has each invariant's cost per
 * scan, step and end apart. On a loaded machine the microseconds swell with the load; the
 * shares between invariants are what to read.
 */
export function exploreChecksBenchmarks(): BenchResult[] {
  const results: BenchResult[] = [];
  for (const scenario of builtinScenarios()) {
    if (!SCENARIOS.includes(scenario.name)) continue;
    const variant = fixedVariant(scenario);
    if (variant === null) continue;
    const base = scenarioTarget(scenario, { variant });
    const costs = new Map<string, Cost>();
    let steps = 0;
    const time = (invs: readonly Invariant[], phase: InvariantPhase, result?: RunResult) => {
      for (const inv of invs) {
        let c = costs.get(inv.name);
        if (c === undefined) {
          c = { step: 0, stepUs: 0, end: 0, endUs: 0 };
          costs.set(inv.name, c);
        }
        const start = performance.now();
        for (let i = 0; i < REPEATS; i++) inv.check(phase, result);
        const us = ((performance.now() - start) * 1000) / REPEATS;
        if (phase === 'step') {
          c.step++;
          c.stepUs += us;
        } else {
          c.end++;
          c.endUs += us;
        }
      }
    };
    const target: ExplorationTarget = {
      name: base.name,
      identity: base.identity,
      instantiate(options) {
        let timed: readonly Invariant[] = [];
        const onStep = options.runtime.onStep;
        const instance = base.instantiate({
          runtime: {
            ...options.runtime,
            onStep: (task, step) => {
              onStep(task, step);
              steps++;
              time(timed, 'step');
            },
          },
        });
        timed = kernelInvariants(instance.kernel, { stride: 1 });
        const atEnd: Invariant = {
          name: 'explore-checks-bench',
          check(phase, result) {
            if (phase === 'end') time(timed, 'end', result);
            return null;
          },
        };
        return { ...instance, invariants: [...instance.invariants, atEnd] };
      },
    };
    explore(target, { schedules: SCHEDULES, stopOnFirst: false, shrink: false });
    const perSchedule = steps / SCHEDULES;
    const strided = Math.floor(perSchedule / DEFAULT_INVARIANT_STRIDE);
    let scans = 0;
    let us = 0;
    const perInvariant: Record<string, number> = {};
    for (const [name, c] of costs) {
      const stepScans = END_ONLY.has(name) ? 0 : STRIDED.has(name) ? strided : perSchedule;
      const stepUs = c.step > 0 ? c.stepUs / c.step : 0;
      const endUs = c.end > 0 ? c.endUs / c.end : 0;
      scans += stepScans + 1;
      us += stepScans * stepUs + endUs;
      perInvariant[`${name}.stepScansPerSchedule`] = stepScans;
      perInvariant[`${name}.stepUsPerScan`] = stepUs;
      perInvariant[`${name}.endUsPerScan`] = endUs;
      perInvariant[`${name}.usPerSchedule`] = stepScans * stepUs + endUs;
    }
    const detail = {
      variant,
      schedules: SCHEDULES,
      stepsPerSchedule: perSchedule,
      ...perInvariant,
    };
    results.push(
      {
        name: `explore.${scenario.name}.invariant_scans_per_schedule`,
        value: scans,
        unit: 'scans',
        better: 'lower',
        description: `Scans of the kernel invariants per random schedule of ${scenario.name} in ${variant} at the default stride (${DEFAULT_INVARIANT_STRIDE}): each cheap invariant after every step, each memory walk every ${DEFAULT_INVARIANT_STRIDE}th step, all at the end.`,
        detail,
      },
      {
        name: `explore.${scenario.name}.invariant_us_per_schedule`,
        value: us,
        unit: 'us',
        better: 'lower',
        description: `Wall microseconds the kernel invariants cost per random schedule of ${scenario.name} in ${variant} at the default stride (each invariant's mean cost per scan, measured on the explored states, times its scans); detail splits it by invariant (NAME.usPerSchedule, .stepUsPerScan, .endUsPerScan, .stepScansPerSchedule).`,
        detail,
      },
    );
  }
  return results;
}
