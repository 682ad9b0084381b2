import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VARIANTS, type VariantName } from '@mmsim/migrate';
import { builtinScenarios, historyBugVariants, type Scenario } from '@mmsim/scenarios';
import {
  BUDGET_MS,
  COLD_MAX_CPU_MS,
  COLD_SCHEDULES,
  MAX_MS,
  MIN_SCHEDULES,
  type OneScenarioMeasurement,
} from './explore-one.js';
import type { BenchResult } from './measure.js';
import { DEFAULT_WARM_UP } from './warm-up.js';

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

/** What explore-runner.ts printed: one scenario measured in a fresh process. */
function measureInFreshProcess(name: string, variant: VariantName): OneScenarioMeasurement {
  const runner = fileURLToPath(new URL('./explore-runner.ts', import.meta.url));
  // This process's node options (`--import tsx` among them, to run the runner's TypeScript).
  const out = execFileSync(process.execPath, [...process.execArgv, runner, name, variant], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 << 20,
  });
  return JSON.parse(out) as OneScenarioMeasurement;
}

/**
 * For every built-in scenario in its fixed variant, in a fresh process of its own (a child
 * process running explore-runner.ts, one after the other): random exploration on one
 * worker with every check and invariant on, no stop at a finding; first an untimed warm-up
 * until the rate levels off (`warmUpVerdict`, rounds of about a second of CPU; the first
 * round is the process's first 1,000 schedules, the cold figure), then about two seconds or
 * MIN_SCHEDULES schedules, whichever takes longer. Figures: schedules per wall second, and
 * the share of that wall time spent building instances (kernel, scenario build, spawning;
 * the scenario's set-up task runs in the schedule and is not counted).
 *
 * Why a process each: in one process every earlier scenario's shapes stayed in the shared
 * code's type feedback (polymorphic call sites), so a figure depended on the scenario's place
 * in the list, and the first scenarios paid the compilation of the shared code. A child
 * process rather than a worker thread: `process.cpuUsage` (the CPU figures, the warm-up's
 * rule) counts the whole process, V8's collector threads included, which a worker thread
 * would share with this one; and a process is what `mmsim explore SCENARIO` is.
 */
export function exploreBenchmarks(): BenchResult[] {
  const results: BenchResult[] = [];
  for (const scenario of builtinScenarios()) {
    const variant = fixedVariant(scenario);
    if (variant === null) continue;
    const m = measureInFreshProcess(scenario.name, variant);
    const detail = {
      variant,
      schedules: m.schedules,
      warmUpSchedules: m.warmUpSchedules,
      warmUpCpuMs: m.warmUpCpuMs,
      warmUpEnded: m.warmUpEnded,
      warmUpRoundsUs: m.warmUpRoundsUs.join(' '),
      coldSchedules: m.coldSchedules,
      coldSchedulesPerSec: m.coldElapsedMs > 0 ? (m.coldSchedules * 1000) / m.coldElapsedMs : 0,
      coldCpuSchedulesPerSec: m.coldCpuMs > 0 ? (m.coldSchedules * 1000) / m.coldCpuMs : 0,
      findings: m.findings,
      elapsedMs: m.elapsedMs,
      cpuMs: m.cpuMs,
      cpuSchedulesPerSec: m.cpuMs > 0 ? (m.schedules * 1000) / m.cpuMs : 0,
      setupCpuShare: m.cpuMs > 0 ? m.setupCpuMs / m.cpuMs : 0,
    };
    results.push(
      {
        name: `explore.${scenario.name}.schedules_per_sec`,
        value: m.elapsedMs > 0 ? (m.schedules * 1000) / m.elapsedMs : 0,
        unit: 'schedules/s',
        better: 'higher',
        description: `Random schedules of ${scenario.name} in ${variant} per wall second, one worker, every check and invariant on, in a fresh process of its own, after an untimed warm-up until the rate levelled off (detail.warmUpEnded: levelled, or capped at ${DEFAULT_WARM_UP.maxCpuMs} ms of CPU or ${DEFAULT_WARM_UP.maxWallMs} ms of wall time; detail.warmUpSchedules and warmUpCpuMs, cold schedules included; warmUpRoundsUs: CPU µs per schedule of each round); timed over ${BUDGET_MS} ms or ${MIN_SCHEDULES} schedules, whichever is more (at most ${MAX_MS} ms): detail.schedules were timed. detail.cpuSchedulesPerSec divides by the process's CPU time instead, steadier on a loaded machine. detail.coldSchedulesPerSec: the process's first detail.coldSchedules schedules (${COLD_SCHEDULES}, or those within ${COLD_MAX_CPU_MS} ms of CPU), per wall second (coldCpuSchedulesPerSec: per CPU second).`,
        detail,
      },
      {
        name: `explore.${scenario.name}.setup_share`,
        value: m.elapsedMs > 0 ? m.setupMs / m.elapsedMs : 0,
        unit: 'fraction',
        better: 'lower',
        description: `Share of the wall time of that exploration spent building instances (kernel, scenario build, spawning the tasks); detail.setupCpuShare is the share of its CPU time, steadier on a loaded machine.`,
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
/**
 * The schedule count of `explore.workers_speedup_steady`: long enough (about 40 s on one
 * thread of the 2-core machine at 2,600 schedules a second) that the worker threads'
 * start-up is amortised, so the figure shows what more cores give a long search.
 */
export const STEADY_SPEEDUP_SCHEDULES = 100_000;
/** Runs of each side of the speed-up, alternated so both see the same machine load. */
const SPEEDUP_ROUNDS = 3;
/**
 * The all-workers runs whose difference gives `schedules_per_sec_all_workers`: a short one
 * with a `--time-budget` of ALL_WORKERS_SHORT_S seconds, long enough that the worker threads
 * have started and mostly warmed up (about 2.5 s of CPU each on a quiet machine), and a long
 * one with a budget ALL_WORKERS_STEADY_S seconds longer than the short one's search took (a
 * search can overrun its budget: under load, 3 s took 7.5), so that the difference is that
 * many seconds of steady searching.
 */
export const ALL_WORKERS_SHORT_S = 3;
export const ALL_WORKERS_STEADY_S = 6;
/** The schedule limit of those runs: more than any budget runs, so the budget ends them. */
const ALL_WORKERS_NO_LIMIT = 1_000_000_000;

/** The built `mmsim` command of the checkout this bench belongs to. */
function mmsimBin(): string {
  const pkg = fileURLToPath(import.meta.resolve('@mmsim/cli/package.json'));
  return join(dirname(pkg), 'dist', 'bin.js');
}

interface CliExplore {
  /** The search's own figure (`schedulesPerSecond` of `--json`: worker start-up included). */
  readonly schedulesPerSecond: number;
  readonly schedules: number;
  /** The search's wall time (`elapsedMs` of `--json`: from its start, modules loaded). */
  readonly searchMs: number;
  /** Wall time of the whole command, process start to exit: what its user waits. */
  readonly wallMs: number;
  /**
   * CPU time (user + system) of the command's process, every thread (V8's garbage collector
   * and compiler threads included); null where the OS does not tell (not Linux).
   */
  readonly cpuMs: number | null;
}

/**
 * CPU time of this process's waited-for children so far (`cutime + cstime` of
 * /proc/self/stat, in ms), or null off Linux.
 */
function childrenCpuMs(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 16 and 17 of proc(5) (cutime, cstime), here from field 3 on: index 13 and 14.
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** `sysconf(_SC_CLK_TCK)`: 100 on every Linux that node runs on. */
const CLOCK_TICKS = 100;

/**
 * `node mmsim ARGS` as a child process, as a user runs it: its stdout, the wall time from
 * process start to exit, and its CPU time (null where the OS does not tell).
 */
function timedCli(args: readonly string[]): { out: string; wallMs: number; cpuMs: number | null } {
  const cpuStart = childrenCpuMs();
  const start = performance.now();
  const out = execFileSync(process.execPath, [mmsimBin(), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 64 << 20,
  });
  const wallMs = performance.now() - start;
  const cpuEnd = childrenCpuMs();
  return { out, wallMs, cpuMs: cpuStart === null || cpuEnd === null ? null : cpuEnd - cpuStart };
}

/**
 * `mmsim explore NAME --variant V --schedules S --workers W --json` (and `--time-budget
 * SECONDS` when given), as a user runs it.
 */
function cliExplore(
  name: string,
  variant: string,
  schedules: number,
  workers: number,
  seconds?: number,
): CliExplore {
  const args = ['explore', name, '--variant', variant];
  args.push('--schedules', String(schedules), '--workers', String(workers), '--json');
  if (seconds !== undefined) args.push('--time-budget', String(seconds));
  const { out, wallMs, cpuMs } = timedCli(args);
  const r = JSON.parse(out) as {
    schedules: number;
    schedulesPerSecond: number | null;
    elapsedMs: number;
  };
  return {
    schedules: r.schedules,
    schedulesPerSecond: r.schedulesPerSecond ?? 0,
    searchMs: r.elapsedMs,
    wallMs,
    cpuMs,
  };
}

/**
 * `explore.<scenario>.schedules_per_sec_all_workers`: two runs of `mmsim explore NAME
 * --workers CORES` under the same seed, with time budgets of ALL_WORKERS_SHORT_S and
 * ALL_WORKERS_STEADY_S more than the first took. The figure is the long run's own rate
 * (schedules over its search time, the threads' start-up and warm-up included): a lower
 * bound of the warm rate that a single run gives reliably. The difference of the two runs'
 * schedules over that of their search times would be the warm rate itself, as both pay the
 * same start-up and warm-up, and is kept in detail.steadyDifferenceSchedulesPerSec; but each
 * run's warm-up swings from process to process on a shared 2-core machine, and a slow short
 * run inflates it: on a quiet machine it gave rfc-lock-order 14,920 a second with two
 * workers, 2.03 times the one-worker figure on 2 cores, which no pool can do. Before, one
 * run of some 3 s gave the figure, most of it warm-up. detail.processSchedulesPerSec is the
 * long run's schedules over the wall time of the whole command, cpuSchedulesPerSec the
 * difference of schedules over that of the commands' CPU time.
 */
export function allWorkersSteady(name: string, variant: VariantName, cores: number): BenchResult {
  const short = cliExplore(name, variant, ALL_WORKERS_NO_LIMIT, cores, ALL_WORKERS_SHORT_S);
  const longS = Math.ceil(short.searchMs / 100) / 10 + ALL_WORKERS_STEADY_S;
  const long = cliExplore(name, variant, ALL_WORKERS_NO_LIMIT, cores, longS);
  const ms = long.searchMs - short.searchMs;
  const cpuMs = long.cpuMs === null || short.cpuMs === null ? null : long.cpuMs - short.cpuMs;
  return {
    name: `explore.${name}.schedules_per_sec_all_workers`,
    value: long.schedulesPerSecond,
    unit: 'schedules/s',
    better: 'higher',
    description: `Random schedules of ${name} in ${variant} per wall second with --workers ${cores} (every core), through mmsim explore, over a search (--time-budget) ${ALL_WORKERS_STEADY_S} s longer than a first ${ALL_WORKERS_SHORT_S} s one, the worker threads' start-up and JIT warm-up included (a lower bound of their warm rate). detail.steadyDifferenceSchedulesPerSec: the two searches' difference of schedules over that of their search times (the start-up and warm-up both pay cancel out; noisy, as each process's warm-up swings); processSchedulesPerSec: its schedules over the wall time of the whole command; cpuSchedulesPerSec: the same difference of schedules over that of the two commands' CPU time (every thread; Linux only), per CPU second, steadier on a loaded machine, where the wall figure swings with the other processes.`,
    detail: {
      variant,
      workers: cores,
      schedules: long.schedules - short.schedules,
      shortSchedules: short.schedules,
      shortSearchMs: short.searchMs,
      longSchedules: long.schedules,
      longSearchMs: long.searchMs,
      searchSchedulesPerSec: long.schedulesPerSecond,
      steadyDifferenceSchedulesPerSec:
        ms > 0 ? Math.max(0, ((long.schedules - short.schedules) * 1000) / ms) : 0,
      processSchedulesPerSec: long.wallMs > 0 ? (long.schedules * 1000) / long.wallMs : 0,
      wallMs: long.wallMs,
      ...known({
        cpuSchedulesPerSec:
          cpuMs === null || cpuMs <= 0 ? null : ((long.schedules - short.schedules) * 1000) / cpuMs,
      }),
    },
  };
}

const median = (v: readonly number[]) =>
  [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;

/**
 * Explorations on every core, through the command a user runs (`mmsim explore --workers N`,
 * N = this machine's cores, a child process per run):
 * - `explore.<scenario>.schedules_per_sec_all_workers` for every built-in scenario in its
 *   fixed variant: the rate of a search of some 9 s on every core (`allWorkersSteady`),
 *   the threads' warm-up included, so a lower bound of the warm rate that the one-worker
 *   `explore.<scenario>.schedules_per_sec` gives for one thread;
 * - `explore.workers_speedup`: wall time of the whole command with one worker over that with
 *   all of them, on SPEEDUP_SCENARIO in SPEEDUP_VARIANT for SPEEDUP_SCHEDULES schedules,
 *   the median of SPEEDUP_ROUNDS alternated runs of each (the threads' start-up included);
 * - `explore.workers_speedup_steady`: the same for STEADY_SPEEDUP_SCHEDULES schedules, where
 *   that start-up is amortised;
 * - `explore.command_start_up_cpu_ms`: CPU time of the command for one schedule (`startUp`).
 * The checks stop at a finding as the command does; the fixed variants have none.
 */
export function exploreWorkersBenchmarks(): BenchResult[] {
  const cores = availableParallelism();
  const results: BenchResult[] = [];
  for (const scenario of builtinScenarios()) {
    const variant = fixedVariant(scenario);
    if (variant === null) continue;
    results.push(allWorkersSteady(scenario.name, variant, cores));
  }
  results.push(
    startUp(),
    speedup(
      'explore.workers_speedup',
      SPEEDUP_SCHEDULES,
      cores,
      "the command as a user runs it on a search of a few seconds: the worker threads' start-up (loading the worker module, warming up its compiled code) is part of it",
    ),
    speedup(
      'explore.workers_speedup_steady',
      STEADY_SPEEDUP_SCHEDULES,
      cores,
      "a search long enough that the worker threads' start-up is amortised: what more cores give a long search (on a 2-core machine bounded by V8's garbage-collector threads, which already take part of the second core at --workers 1)",
    ),
  );
  return results;
}

/**
 * Wall time of `mmsim explore SPEEDUP_SCENARIO --variant SPEEDUP_VARIANT --schedules
 * SCHEDULES` with `--workers 1` over `--workers CORES`, process start to exit, the medians of
 * SPEEDUP_ROUNDS alternated runs each; the detail has the CPU time of each side (every
 * thread of the process) and its share of the wall time (cores busy on average).
 */
function speedup(name: string, schedules: number, cores: number, what: string): BenchResult {
  const one: CliExplore[] = [];
  const all: CliExplore[] = [];
  for (let round = 0; round < SPEEDUP_ROUNDS; round++) {
    one.push(cliExplore(SPEEDUP_SCENARIO, SPEEDUP_VARIANT, schedules, 1));
    all.push(cliExplore(SPEEDUP_SCENARIO, SPEEDUP_VARIANT, schedules, cores));
  }
  const wall = (runs: readonly CliExplore[]) => median(runs.map((r) => r.wallMs));
  const cpu = (runs: readonly CliExplore[]) =>
    runs.every((r) => r.cpuMs !== null) ? median(runs.map((r) => r.cpuMs as number)) : null;
  const busy = (runs: readonly CliExplore[]) => {
    const c = cpu(runs);
    return c === null || wall(runs) <= 0 ? null : c / wall(runs);
  };
  return {
    name,
    value: wall(all) > 0 ? wall(one) / wall(all) : 0,
    unit: 'x',
    better: 'higher',
    description: `Wall time of mmsim explore ${SPEEDUP_SCENARIO} --variant ${SPEEDUP_VARIANT} --schedules ${schedules} with --workers 1 over --workers ${cores} (every core), process start to exit, the medians of ${SPEEDUP_ROUNDS} alternated runs each: ${what}. detail.*CpuMs: CPU time of the process (every thread), *CoresBusy: that over the wall time.`,
    detail: {
      scenario: SPEEDUP_SCENARIO,
      variant: SPEEDUP_VARIANT,
      schedules,
      workers: cores,
      oneWorkerMs: wall(one),
      allWorkersMs: wall(all),
      oneWorkerRunsMs: one.map((r) => r.wallMs.toFixed(0)).join(' '),
      allWorkersRunsMs: all.map((r) => r.wallMs.toFixed(0)).join(' '),
      ...known({
        oneWorkerCpuMs: cpu(one),
        allWorkersCpuMs: cpu(all),
        oneWorkerCoresBusy: busy(one),
        allWorkersCoresBusy: busy(all),
      }),
    },
  };
}

/** Runs of each start-up figure (their median). */
const START_UP_ROUNDS = 5;

/**
 * `explore.command_start_up_cpu_ms`: CPU time (every thread) of `mmsim explore
 * SPEEDUP_SCENARIO --variant SPEEDUP_VARIANT --schedules 1 --json`, process start to exit, the
 * median of START_UP_ROUNDS runs: what the command costs before and around its first schedule
 * (loading its modules, building the exploration). detail.versionCpuMs: the same for `mmsim
 * --version` (loading the modules alone). CPU rather than wall time, which swings with the
 * machine's load.
 */
function startUp(): BenchResult {
  const explore: number[] = [];
  const version: number[] = [];
  const args = ['explore', SPEEDUP_SCENARIO, '--variant', SPEEDUP_VARIANT];
  args.push('--schedules', '1', '--workers', '1', '--json');
  for (let round = 0; round < START_UP_ROUNDS; round++) {
    const e = timedCli(args).cpuMs;
    const v = timedCli(['--version']).cpuMs;
    if (e !== null) explore.push(e);
    if (v !== null) version.push(v);
  }
  return {
    name: 'explore.command_start_up_cpu_ms',
    value: median(explore),
    unit: 'ms',
    better: 'lower',
    description: `CPU time (every thread) of mmsim explore ${SPEEDUP_SCENARIO} --variant ${SPEEDUP_VARIANT} --schedules 1, process start to exit, the median of ${START_UP_ROUNDS} runs: the command's start-up (its modules, from dist/command.bundle.js when the build made it) and one schedule. 0 off Linux (no CPU time of children). detail.versionCpuMs: the same for mmsim --version.`,
    detail: {
      scenario: SPEEDUP_SCENARIO,
      variant: SPEEDUP_VARIANT,
      exploreRunsCpuMs: explore.map((ms) => ms.toFixed(0)).join(' '),
      versionCpuMs: median(version),
      versionRunsCpuMs: version.map((ms) => ms.toFixed(0)).join(' '),
    },
  };
}

/** The entries whose value is known (not null). */
function known(entries: Record<string, number | null>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(entries)) if (value !== null) out[key] = value;
  return out;
}

/** The DPOR search of `explore.dpor.<scenario>.seconds_all_workers` (the target). */
export const DPOR_WORKERS_SCENARIO = 'loop-writeback-deadlock';
export const DPOR_WORKERS_VARIANT: VariantName = 'v6.3';
export const DPOR_WORKERS_STRATEGY = 'dpor:2';

/**
 * `mmsim explore NAME --variant V --strategy S --schedules 1e9 --workers W --json`: the DPOR
 * search until exhausted, wall time process start to exit, and its report.
 */
function cliDpor(workers: number): CliExplore & { readonly report: Record<string, unknown> } {
  const args = ['explore', DPOR_WORKERS_SCENARIO, '--variant', DPOR_WORKERS_VARIANT];
  args.push('--strategy', DPOR_WORKERS_STRATEGY, '--schedules', '1000000000');
  args.push('--workers', String(workers), '--json');
  const { out, wallMs, cpuMs } = timedCli(args);
  const report = JSON.parse(out) as Record<string, unknown>;
  return {
    schedules: report.schedules as number,
    schedulesPerSecond: (report.schedulesPerSecond as number | null) ?? 0,
    searchMs: report.elapsedMs as number,
    wallMs,
    cpuMs,
    report,
  };
}

/**
 * The exhaustive DPOR search on every core (suite `explore-dpor-workers`, opt-in: one run of
 * each side takes a minute or more):
 * - `explore.dpor.<scenario>.seconds_all_workers`: wall seconds of `mmsim explore
 *   DPOR_WORKERS_SCENARIO --strategy dpor:2 --workers CORES` until exhausted, process start
 *   to exit (the issue's target: 60 s);
 * - `explore.dpor_workers_speedup`: the wall time of the same with `--workers 1` over it.
 * One run of each side, `--workers 1` first; the detail has each side's CPU time and the
 * reports' executions and classes (which must be equal: the bench fails otherwise).
 */
export function exploreDporWorkersBenchmarks(): BenchResult[] {
  const cores = availableParallelism();
  const one = cliDpor(1);
  const all = cliDpor(cores);
  for (const key of ['executions', 'classes', 'exhausted', 'found']) {
    if (one.report[key] !== all.report[key]) {
      throw new Error(
        `explore-dpor-workers: ${key} ${String(all.report[key])} with --workers ${cores}, ${String(one.report[key])} with --workers 1`,
      );
    }
  }
  const detail = {
    scenario: DPOR_WORKERS_SCENARIO,
    variant: DPOR_WORKERS_VARIANT,
    strategy: DPOR_WORKERS_STRATEGY,
    workers: cores,
    executions: one.report.executions as number,
    classes: one.report.classes as number,
    oneWorkerMs: one.wallMs,
    allWorkersMs: all.wallMs,
    ...known({ oneWorkerCpuMs: one.cpuMs, allWorkersCpuMs: all.cpuMs }),
  };
  return [
    {
      name: `explore.dpor.${DPOR_WORKERS_SCENARIO}.seconds_all_workers`,
      value: all.wallMs / 1000,
      unit: 's',
      better: 'lower',
      description: `Wall seconds of mmsim explore ${DPOR_WORKERS_SCENARIO} --variant ${DPOR_WORKERS_VARIANT} --strategy ${DPOR_WORKERS_STRATEGY} --workers ${cores} (every core) until the search is exhausted, process start to exit; one run.`,
      detail,
    },
    {
      name: 'explore.dpor_workers_speedup',
      value: all.wallMs > 0 ? one.wallMs / all.wallMs : 0,
      unit: 'x',
      better: 'higher',
      description: `Wall time of that exhaustive DPOR search with --workers 1 over --workers ${cores}: one run each, --workers 1 first (the same report either way).`,
      detail,
    },
  ];
}
