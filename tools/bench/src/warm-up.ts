/**
 * When the untimed warm-up of an exploration bench has run long enough: the rule alone, a
 * pure function of the rounds run so far, so that it can be tested without running a model.
 *
 * Why a rule and not a fixed count: a fresh process runs a scenario's first schedules several
 * times slower than its steady state while V8 compiles and optimises the model's code, and
 * how many schedules that takes differs by scenario (rfc-lock-order v6.3-rc1 levels off after
 * some 2,000 schedules, pmbench-migrate after some 60). A fixed warm-up either timed
 * still-cold code or wasted minutes on the slow scenarios.
 */

/** One round of the warm-up: schedules run and the process's CPU time they took. */
export interface WarmUpRound {
  readonly schedules: number;
  readonly cpuMs: number;
}

/** The limits of a warm-up (see `DEFAULT_WARM_UP`). */
export interface WarmUpLimits {
  /**
   * Two consecutive rounds whose CPU per schedule differs by at most this fraction (of the
   * earlier round's) mean the rate has levelled off.
   */
  readonly tolerance: number;
  /** The fewest schedules of a warm-up (in all rounds). */
  readonly minSchedules: number;
  /** The warm-up ends, levelled or not, after this much CPU time (all rounds). */
  readonly maxCpuMs: number;
  /** ... or this much wall time (all rounds): on a loaded machine CPU time comes slowly. */
  readonly maxWallMs: number;
}

/** How a warm-up ended, or that it goes on. */
export type WarmUpVerdict = 'levelled' | 'capped' | 'continue';

/**
 * The bench's limits: 10 % between two rounds (of some 1 s of CPU each: long enough that a
 * slow drift still shows as more than that, and that a collection or a burst of load moves a
 * round's rate by less), at least 20 schedules, and at most 12 s of CPU or 40 s of wall time
 * (rfc-lock-order levels off after some 2,000 schedules, 2.5 s of CPU, on a quiet machine).
 */
export const DEFAULT_WARM_UP: WarmUpLimits = {
  tolerance: 0.1,
  minSchedules: 20,
  maxCpuMs: 12_000,
  maxWallMs: 40_000,
};

/**
 * CPU per schedule of the last round within `tolerance` of the round before it (either
 * way: a round that is still faster by more than that means the code is still being
 * optimised, a slower one is noise or a collection, and neither is a level) and at least
 * `minSchedules` run: 'levelled'. Otherwise the caps: 'capped' once the rounds took
 * `maxCpuMs` of CPU or `wallMs` reached `maxWallMs`. Otherwise 'continue'. A round of no
 * schedules (a search cut off by its budget) carries no rate and is skipped.
 */
export function warmUpVerdict(
  rounds: readonly WarmUpRound[],
  wallMs: number,
  limits: WarmUpLimits = DEFAULT_WARM_UP,
): WarmUpVerdict {
  const measured = rounds.filter((r) => r.schedules > 0);
  const schedules = measured.reduce((sum, r) => sum + r.schedules, 0);
  const last = measured.at(-1);
  const before = measured.at(-2);
  if (last !== undefined && before !== undefined && schedules >= limits.minSchedules) {
    const now = last.cpuMs / last.schedules;
    const then = before.cpuMs / before.schedules;
    if (Math.abs(now - then) <= limits.tolerance * then) return 'levelled';
  }
  const cpuMs = rounds.reduce((sum, r) => sum + r.cpuMs, 0);
  if (cpuMs >= limits.maxCpuMs || wallMs >= limits.maxWallMs) return 'capped';
  return 'continue';
}

/**
 * The schedules of the next round: about `roundCpuMs` of CPU at the last round's rate, at
 * least 1 (the first round, with no rate yet, is `first`).
 */
export function nextRoundSchedules(
  rounds: readonly WarmUpRound[],
  roundCpuMs: number,
  first: number,
): number {
  const last = rounds.filter((r) => r.schedules > 0).at(-1);
  if (last === undefined) return first;
  const perSchedule = last.cpuMs / last.schedules;
  return Math.max(1, Math.round(roundCpuMs / Math.max(perSchedule, 1e-3)));
}
