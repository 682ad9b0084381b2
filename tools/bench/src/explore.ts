import { type ExplorationTarget, explore } from '@mmsim/explore';
import { VARIANTS, type VariantName } from '@mmsim/migrate';
import {
  builtinScenarios,
  historyBugVariants,
  type Scenario,
  scenarioTarget,
} from '@mmsim/scenarios';
import type { BenchResult } from './measure.js';

/** Wall-clock time each scenario is explored for (after its warm-up). */
const BUDGET_MS = 2000;
const WARM_UP_MS = 300;

/**
 * The variant a scenario is explored in: for a historic bug, the first built-in variant
 * after the last one that has the bug (in `VARIANTS` order: the fix); for a scenario without
 * a bug, its own variant. Null when no built-in variant is fixed.
 */
export function fixedVariant(scenario: Scenario): VariantName | null {
  const names = Object.keys(VARIANTS) as VariantName[];
  const own = typeof scenario.config.variant === 'string' ? scenario.config.variant : 'v6.3';
  const buggy = new Set<string>(
    scenario.history === undefined ? [] : historyBugVariants(scenario.history),
  );
  if (!buggy.has(own)) return own;
  const last = Math.max(...names.map((n, i) => (buggy.has(n) ? i : -1)));
  return names.slice(last + 1).find((n) => !buggy.has(n)) ?? null;
}

/** A target that adds the wall time spent building instances to `spent.ms`. */
function timed(target: ExplorationTarget, spent: { ms: number }): ExplorationTarget {
  return {
    name: target.name,
    ...(target.identity === undefined ? {} : { identity: target.identity }),
    instantiate(options) {
      const start = performance.now();
      const instance = target.instantiate(options);
      spent.ms += performance.now() - start;
      return instance;
    },
  };
}

/**
 * For every built-in scenario in its fixed variant: random exploration on one worker for
 * about two seconds (after a short warm-up), with every check and invariant on, no stop at
 * a finding. Figures: schedules per wall second, and the share of that wall time spent
 * building instances (kernel, scenario build, spawning; the scenario's set-up task runs in
 * the schedule and is not counted).
 */
export function exploreBenchmarks(): BenchResult[] {
  const results: BenchResult[] = [];
  for (const scenario of builtinScenarios()) {
    const variant = fixedVariant(scenario);
    if (variant === null) continue;
    const target = scenarioTarget(scenario, { variant });
    explore(target, {
      schedules: 1_000_000,
      timeBudgetMs: WARM_UP_MS,
      stopOnFirst: false,
      shrink: false,
    });
    const spent = { ms: 0 };
    const cpuStart = process.cpuUsage();
    const r = explore(timed(target, spent), {
      schedules: 1_000_000,
      timeBudgetMs: BUDGET_MS,
      stopOnFirst: false,
      shrink: false,
    });
    const cpu = process.cpuUsage(cpuStart);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const detail = {
      variant,
      schedules: r.schedules,
      findings: r.findings,
      elapsedMs: r.elapsedMs,
      cpuSchedulesPerSec: cpuMs > 0 ? (r.schedules * 1000) / cpuMs : 0,
    };
    results.push(
      {
        name: `explore.${scenario.name}.schedules_per_sec`,
        value: r.schedulesPerSecond ?? 0,
        unit: 'schedules/s',
        better: 'higher',
        description: `Random schedules of ${scenario.name} in ${variant} per wall second, one worker, every check and invariant on (${BUDGET_MS} ms budget); detail.cpuSchedulesPerSec divides by the process's CPU time instead, steadier on a loaded machine.`,
        detail,
      },
      {
        name: `explore.${scenario.name}.setup_share`,
        value: r.elapsedMs > 0 ? spent.ms / r.elapsedMs : 0,
        unit: 'fraction',
        better: 'lower',
        description: `Share of the wall time of that exploration spent building instances (kernel, scenario build, spawning the tasks).`,
        detail,
      },
    );
  }
  return results;
}
