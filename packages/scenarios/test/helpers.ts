import type { VariantName } from '@mmsim/kernel';
import { formatDeadlock, type StrategySpec } from '@mmsim/runtime';
import {
  runScenario,
  type Scenario,
  type ScenarioOptions,
  type ScenarioRun,
} from '../src/index.js';

/** The runtime strategy of schedule `seed`: random, PCT, or alternating between them. */
export type SearchStrategy = 'random' | 'pct' | 'mixed';

function strategyOf(kind: SearchStrategy, seed: number): StrategySpec {
  const pct: StrategySpec = { kind: 'pct', depth: 3, steps: 200 };
  if (kind === 'random') return 'random';
  if (kind === 'pct') return pct;
  return seed % 2 === 1 ? 'random' : pct;
}

/** What a search over schedules found. */
export interface SearchResult {
  readonly schedules: number;
  readonly deadlocks: number;
  /** Runs that ended with a failed invariant, a crash or a step limit. */
  readonly failures: number;
  /** Completed runs in which the page-lock dependency checker reported an inversion. */
  readonly inversionsWithoutDeadlock: number;
  /** The first problematic run: its seed and what went wrong. */
  readonly first: {
    readonly seed: number;
    readonly what: string;
    readonly run: ScenarioRun;
  } | null;
}

/**
 * Runs `schedules` schedules of a scenario in one variant, seeds `seed`, `seed + 1`, ...
 * with the runtime's random or PCT strategy (the explorer's strategies, without its
 * shrinking), checking the invariants; stops at the first problem unless `stopOnFirst`
 * is false. (It drives `runScenario` directly, so that it can count inversions that did
 * not deadlock across every schedule.)
 */
export function searchSchedules(
  scenario: Scenario,
  variant: VariantName,
  options: {
    readonly strategy?: SearchStrategy;
    readonly schedules: number;
    readonly seed?: number;
    readonly stopOnFirst?: boolean;
    readonly scenarioOptions?: ScenarioOptions;
  },
): SearchResult {
  const kind = options.strategy ?? 'random';
  const base = options.seed ?? 1;
  let deadlocks = 0;
  let failures = 0;
  let inversionsWithoutDeadlock = 0;
  let first: SearchResult['first'] = null;
  let n = 0;
  for (; n < options.schedules; ) {
    const seed = base + n;
    n++;
    const run = runScenario(scenario, {
      ...options.scenarioOptions,
      variant,
      strategy: strategyOf(kind, seed),
      seed,
    });
    let what: string | null = null;
    if (run.error !== null) what = `crash: ${run.error.code}: ${run.error.message}`;
    else if (run.result?.status === 'deadlock') {
      deadlocks++;
      what = formatDeadlock(run.result.deadlock!);
    } else if (run.result?.status === 'step-limit') what = 'step limit';
    else if (run.violations.length > 0) {
      const v = run.violations[0]!;
      what = `invariant ${v.invariant} (${v.phase}, step ${v.step}): ${v.message}`;
    }
    if (what !== null && run.result?.status !== 'deadlock') failures++;
    if (what === null && run.inversions.length > 0) inversionsWithoutDeadlock++;
    if (what !== null && first === null) first = { seed, what, run };
    if (what !== null && (options.stopOnFirst ?? true)) break;
  }
  return { schedules: n, deadlocks, failures, inversionsWithoutDeadlock, first };
}

/** The first seed from `seed` whose run completes without a problem but reports an inversion. */
export function firstInversionWithoutDeadlock(
  scenario: Scenario,
  variant: VariantName,
  limit: number,
  kind: SearchStrategy = 'mixed',
): { seed: number; run: ScenarioRun } | null {
  for (let seed = 1; seed <= limit; seed++) {
    const run = runScenario(scenario, { variant, strategy: strategyOf(kind, seed), seed });
    if (
      run.result?.status === 'completed' &&
      run.violations.length === 0 &&
      run.inversions.length > 0
    ) {
      return { seed, run };
    }
  }
  return null;
}
