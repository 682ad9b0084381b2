import { type ExplorationTarget, explore } from '@mmsim/explore';
import type { VariantName } from '@mmsim/migrate';
import { builtinScenarios, scenarioTarget } from '@mmsim/scenarios';
import {
  nextRoundSchedules,
  type WarmUpRound,
  type WarmUpVerdict,
  warmUpVerdict,
} from './warm-up.js';

/**
 * Wall-clock time a scenario is explored for (after its warm-up), unless MIN_SCHEDULES
 * take longer.
 */
export const BUDGET_MS = 2000;
/**
 * The fewest schedules a scenario's figure is taken over: a slow scenario (pmbench-migrate,
 * some 11 ms a schedule when warm) gets them even past BUDGET_MS, up to MAX_MS.
 */
export const MIN_SCHEDULES = 100;
/** The longest a scenario's measurement may take to reach MIN_SCHEDULES. */
export const MAX_MS = 15_000;
/**
 * The cold figure: a fresh process's first COLD_SCHEDULES schedules (what `mmsim explore
 * --schedules 1000` shows its user, module loading left out), or those that fit in
 * COLD_MAX_CPU_MS of the process's CPU time for a slow scenario (pmbench-migrate runs some
 * 100). CPU, not wall time, so that the count does not shrink with the machine's load.
 */
export const COLD_SCHEDULES = 1000;
export const COLD_MAX_CPU_MS = 3000;
/** CPU time of each warm-up round after the cold one (see `warmUpVerdict`). */
const ROUND_CPU_MS = 750;
/**
 * Seeds of the measurement and of the search that may follow it (a search runs its seed's
 * schedules from index 0: another seed runs other schedules), of the cold schedules, and the
 * first of the warm-up's (one per round of it): no schedule is timed twice.
 */
const MEASURE_SEED = 1;
const MEASURE_MORE_SEED = 2;
const COLD_SEED = 3;
const WARM_UP_SEED = 1000;

/** What `measureScenario` measured, in one fresh process. */
export interface OneScenarioMeasurement {
  /** The timed search (after the warm-up): schedules, findings, wall and CPU time. */
  readonly schedules: number;
  readonly findings: number;
  readonly elapsedMs: number;
  readonly cpuMs: number;
  /** Wall and CPU time of the timed search spent building instances. */
  readonly setupMs: number;
  readonly setupCpuMs: number;
  /** The process's first schedules (the first round of the warm-up). */
  readonly coldSchedules: number;
  readonly coldElapsedMs: number;
  readonly coldCpuMs: number;
  /** The whole warm-up, cold schedules included. */
  readonly warmUpSchedules: number;
  readonly warmUpCpuMs: number;
  readonly warmUpWallMs: number;
  readonly warmUpEnded: Exclude<WarmUpVerdict, 'continue'>;
  /** CPU µs per schedule of each warm-up round, in order. */
  readonly warmUpRoundsUs: readonly number[];
}

/**
 * A target that adds the wall time spent building instances to `spent.ms`, and the
 * process's CPU time over the same spans to `spent.cpuMs` (steadier on a loaded machine; it
 * includes V8's background threads while they run, and the collections that building
 * triggers).
 */
function timed(target: ExplorationTarget, spent: { ms: number; cpuMs: number }): ExplorationTarget {
  return {
    name: target.name,
    ...(target.identity === undefined ? {} : { identity: target.identity }),
    instantiate(options) {
      const cpuStart = process.cpuUsage();
      const start = performance.now();
      const instance = target.instantiate(options);
      spent.ms += performance.now() - start;
      spent.cpuMs += cpuMsSince(cpuStart);
      return instance;
    },
  };
}

/** Random exploration with every check on and no stop at a finding (the bench's search). */
function search(target: ExplorationTarget, seed: number, schedules: number, budgetMs?: number) {
  return explore(target, {
    seed,
    schedules,
    ...(budgetMs === undefined ? {} : { timeBudgetMs: budgetMs }),
    stopOnFirst: false,
    shrink: false,
  });
}

/** Thrown out of `onProgress` to end the cold round at COLD_MAX_CPU_MS. */
class ColdCapReached extends Error {}

/**
 * The cold round: `search` of COLD_SCHEDULES under COLD_SEED, stopped after the schedule
 * during which the process's CPU time passed COLD_MAX_CPU_MS (the explorer has no CPU
 * budget: its progress callback throws, as the command's does at Ctrl-C). Schedules and wall
 * time are those of the progress so far.
 */
function coldRound(target: ExplorationTarget): { schedules: number; elapsedMs: number } {
  const cpuStart = process.cpuUsage();
  let done = { schedules: 0, elapsedMs: 0 };
  try {
    const r = explore(target, {
      seed: COLD_SEED,
      schedules: COLD_SCHEDULES,
      stopOnFirst: false,
      shrink: false,
      onProgress(p) {
        done = { schedules: p.schedule, elapsedMs: p.elapsedMs };
        if (cpuMsSince(cpuStart) >= COLD_MAX_CPU_MS) throw new ColdCapReached();
      },
    });
    return { schedules: r.schedules, elapsedMs: r.elapsedMs };
  } catch (error) {
    if (error instanceof ColdCapReached) return done;
    throw error;
  }
}

/** CPU time (user + system, ms) of the process since `start`. */
function cpuMsSince(start: NodeJS.CpuUsage): number {
  const cpu = process.cpuUsage(start);
  return (cpu.user + cpu.system) / 1000;
}

/**
 * The untimed warm-up: a cold round (`coldRound`), then rounds of
 * about ROUND_CPU_MS of CPU each until `warmUpVerdict` says the rate levelled off or a cap
 * was reached.
 */
function warmUpOn(target: ExplorationTarget) {
  const rounds: WarmUpRound[] = [];
  const wallStart = performance.now();
  let cold = { schedules: 0, elapsedMs: 0, cpuMs: 0 };
  for (;;) {
    const wallMs = performance.now() - wallStart;
    const verdict = rounds.length === 0 ? 'continue' : warmUpVerdict(rounds, wallMs);
    if (verdict !== 'continue') {
      return {
        cold,
        rounds,
        ended: verdict,
        wallMs,
        schedules: rounds.reduce((sum, r) => sum + r.schedules, 0),
        cpuMs: rounds.reduce((sum, r) => sum + r.cpuMs, 0),
      };
    }
    const cpuStart = process.cpuUsage();
    const r =
      rounds.length === 0
        ? coldRound(target)
        : search(
            target,
            WARM_UP_SEED + rounds.length,
            nextRoundSchedules(rounds, ROUND_CPU_MS, 1),
            // A guard only (the round's size is set in CPU time): a round that meets a burst
            // of load ends here rather than keep the warm-up far past its wall cap.
            ROUND_CPU_MS * 10,
          );
    const cpuMs = cpuMsSince(cpuStart);
    if (rounds.length === 0) cold = { schedules: r.schedules, elapsedMs: r.elapsedMs, cpuMs };
    rounds.push({ schedules: r.schedules, cpuMs });
  }
}

/**
 * The timed search: BUDGET_MS of wall time, then, when that ran fewer than MIN_SCHEDULES,
 * the rest of them (within MAX_MS in all) under another seed. Schedules, findings and wall
 * time are the two searches' sums.
 */
function measureOn(target: ExplorationTarget): {
  schedules: number;
  findings: number;
  elapsedMs: number;
} {
  const first = search(target, MEASURE_SEED, 1_000_000, BUDGET_MS);
  if (first.schedules >= MIN_SCHEDULES || first.elapsedMs >= MAX_MS) return first;
  const rest = search(
    target,
    MEASURE_MORE_SEED,
    MIN_SCHEDULES - first.schedules,
    Math.max(1, MAX_MS - first.elapsedMs),
  );
  return {
    schedules: first.schedules + rest.schedules,
    findings: first.findings + rest.findings,
    elapsedMs: first.elapsedMs + rest.elapsedMs,
  };
}

/**
 * The built-in scenario `name` in `variant`, explored at random on this thread with every
 * check and invariant on and no stop at a finding: the warm-up (`warmUpOn`), then the timed
 * search (`measureOn`). Meant to run in a fresh process (explore-runner.ts), so that neither
 * the cold figure nor the compiled code's type feedback depends on what ran before.
 */
export function measureScenario(name: string, variant: VariantName): OneScenarioMeasurement {
  const scenario = builtinScenarios().find((s) => s.name === name);
  if (scenario === undefined) throw new Error(`explore bench: no built-in scenario ${name}`);
  const target = scenarioTarget(scenario, { variant });
  const warmUp = warmUpOn(target);
  const spent = { ms: 0, cpuMs: 0 };
  const cpuStart = process.cpuUsage();
  const r = measureOn(timed(target, spent));
  const cpuMs = cpuMsSince(cpuStart);
  return {
    schedules: r.schedules,
    findings: r.findings,
    elapsedMs: r.elapsedMs,
    cpuMs,
    setupMs: spent.ms,
    setupCpuMs: spent.cpuMs,
    coldSchedules: warmUp.cold.schedules,
    coldElapsedMs: warmUp.cold.elapsedMs,
    coldCpuMs: warmUp.cold.cpuMs,
    warmUpSchedules: warmUp.schedules,
    warmUpCpuMs: warmUp.cpuMs,
    warmUpWallMs: warmUp.wallMs,
    warmUpEnded: warmUp.ended,
    warmUpRoundsUs: warmUp.rounds.map((x) =>
      x.schedules > 0 ? Math.round((x.cpuMs * 1000) / x.schedules) : 0,
    ),
  };
}
