import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

/** The scenario and schedule count of `explore.workers_speedup` (the measurement). */
export const SPEEDUP_SCENARIO = 'loop-writeback-deadlock';
export const SPEEDUP_VARIANT: VariantName = 'v6.3';
export const SPEEDUP_SCHEDULES = 10_000;
/** Runs of each side of the speed-up, alternated so both see the same machine load. */
const SPEEDUP_ROUNDS = 3;
/** About this much wall time per all-workers run (at the one-worker rate times the cores). */
const ALL_WORKERS_TARGET_MS = 3000;

/** The built `mmsim` command of the checkout this bench belongs to. */
function mmsimBin(): string {
  const pkg = fileURLToPath(import.meta.resolve('@mmsim/cli/package.json'));
  return join(dirname(pkg), 'dist', 'bin.js');
}

interface CliExplore {
  /** The search's own figure (`schedulesPerSecond` of `--json`: worker start-up included). */
  readonly schedulesPerSecond: number;
  readonly schedules: number;
  /** Wall time of the whole command, process start to exit: what its user waits. */
  readonly wallMs: number;
}

/** `mmsim explore NAME --variant V --schedules S --workers W --json`, as a user runs it. */
function cliExplore(name: string, variant: string, schedules: number, workers: number): CliExplore {
  const args = [mmsimBin(), 'explore', name, '--variant', variant];
  args.push('--schedules', String(schedules), '--workers', String(workers), '--json');
  const start = performance.now();
  const out = execFileSync(process.execPath, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 64 << 20,
  });
  const wallMs = performance.now() - start;
  const r = JSON.parse(out) as { schedules: number; schedulesPerSecond: number | null };
  return { schedules: r.schedules, schedulesPerSecond: r.schedulesPerSecond ?? 0, wallMs };
}

const median = (v: readonly number[]) =>
  [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;

/**
 * Explorations on every core, through the command a user runs (`mmsim explore --workers N`,
 * N = this machine's cores, a child process per run):
 * - `explore.<scenario>.schedules_per_sec_all_workers` for every built-in scenario in its
 *   fixed variant: random schedules per wall second of the search (its `schedulesPerSecond`,
 *   the worker threads' start-up included), over about three seconds' worth of schedules;
 * - `explore.workers_speedup`: wall time of the whole command with one worker over that with
 *   all of them, on SPEEDUP_SCENARIO in SPEEDUP_VARIANT for SPEEDUP_SCHEDULES schedules,
 *   the median of SPEEDUP_ROUNDS alternated runs of each.
 * The checks stop at a finding as the command does; the fixed variants have none.
 */
export function exploreWorkersBenchmarks(): BenchResult[] {
  const cores = availableParallelism();
  const results: BenchResult[] = [];
  for (const scenario of builtinScenarios()) {
    const variant = fixedVariant(scenario);
    if (variant === null) continue;
    // The schedule count: the one-worker rate of a short in-process run, times the cores.
    const probe = explore(scenarioTarget(scenario, { variant }), {
      schedules: 1_000_000,
      timeBudgetMs: 300,
      stopOnFirst: false,
      shrink: false,
    });
    const rate = probe.schedulesPerSecond ?? 0;
    const schedules = Math.max(
      64 * cores,
      Math.min(1_000_000, Math.round((rate * cores * ALL_WORKERS_TARGET_MS) / 1000)),
    );
    const r = cliExplore(scenario.name, variant, schedules, cores);
    results.push({
      name: `explore.${scenario.name}.schedules_per_sec_all_workers`,
      value: r.schedulesPerSecond,
      unit: 'schedules/s',
      better: 'higher',
      description: `Random schedules of ${scenario.name} in ${variant} per wall second with --workers ${cores} (every core), through mmsim explore, worker start-up included; detail.processSchedulesPerSec divides by the wall time of the whole command.`,
      detail: {
        variant,
        workers: cores,
        schedules: r.schedules,
        processSchedulesPerSec: r.wallMs > 0 ? (r.schedules * 1000) / r.wallMs : 0,
        wallMs: r.wallMs,
      },
    });
  }
  const one: number[] = [];
  const all: number[] = [];
  for (let round = 0; round < SPEEDUP_ROUNDS; round++) {
    one.push(cliExplore(SPEEDUP_SCENARIO, SPEEDUP_VARIANT, SPEEDUP_SCHEDULES, 1).wallMs);
    all.push(cliExplore(SPEEDUP_SCENARIO, SPEEDUP_VARIANT, SPEEDUP_SCHEDULES, cores).wallMs);
  }
  results.push({
    name: 'explore.workers_speedup',
    value: median(all) > 0 ? median(one) / median(all) : 0,
    unit: 'x',
    better: 'higher',
    description: `Wall time of mmsim explore ${SPEEDUP_SCENARIO} --variant ${SPEEDUP_VARIANT} --schedules ${SPEEDUP_SCHEDULES} with --workers 1 over --workers ${cores} (every core), process start to exit, the medians of ${SPEEDUP_ROUNDS} alternated runs each.`,
    detail: {
      scenario: SPEEDUP_SCENARIO,
      variant: SPEEDUP_VARIANT,
      schedules: SPEEDUP_SCHEDULES,
      workers: cores,
      oneWorkerMs: median(one),
      allWorkersMs: median(all),
      oneWorkerRunsMs: one.map((x) => x.toFixed(0)).join(' '),
      allWorkersRunsMs: all.map((x) => x.toFixed(0)).join(' '),
    },
  });
  return results;
}
