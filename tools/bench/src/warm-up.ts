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
   * The rate has levelled off when the last round's CPU per schedule is at most `maxFall`
   * (a fraction) below the round before it's, and at most `maxRise` above it. The fall is
   * held tighter: the compiler's warm-up makes each round faster than the last, by less and
   * less, so a round a little faster still is the warm-up going on; a slower round is noise
   * (load, a collection), not compilation.
   */
  readonly maxFall: number;
  readonly maxRise: number;
  /**
   * How many rounds before the last it must be level with (each of them): with one, a
   * round slowed by load between two faster ones passed for a level while the code was still
   * getting faster.
   */
  readonly levelRounds: number;
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
 * The bench's limits: at most 5 % faster or 10 % slower than each of the two rounds before
 * (rounds of some 0.75 s of CPU each), at least 20 schedules, and at most 8 s of CPU or 40 s
 * of wall time (rfc-lock-order levels off after some 2,000 schedules, 2.5 s of CPU, on a
 * quiet machine; on the shared 2-core machine the rounds' curves were flat within their noise
 * by 5 to 6 s of CPU, and with a 12 s cap the suite took 4.8 min, the old bench 1.3). Measured on the loaded 2-core machine: with 10 % both ways and one round,
 * stale-dst-mapping stopped at 928 then 866 µs a schedule and was timed at 590 µs; with
 * 5 % / 10 % and one round, tiering stopped at 1,023 then 1,061 µs and was timed at 807.
 */
export const DEFAULT_WARM_UP: WarmUpLimits = {
  maxFall: 0.05,
  maxRise: 0.1,
  levelRounds: 2,
  minSchedules: 20,
  maxCpuMs: 8_000,
  maxWallMs: 40_000,
};

/**
 * CPU per schedule of the last round within `maxFall` below and `maxRise` above that of each
 * of the `levelRounds` rounds before it, and at least `minSchedules` run: 'levelled'.
 * Otherwise the caps: 'capped' once the rounds took `maxCpuMs` of CPU or `wallMs` reached
 * `maxWallMs`. Otherwise 'continue'. A round of no
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
  const before = measured.slice(-1 - limits.levelRounds, -1);
  if (
    last !== undefined &&
    before.length === limits.levelRounds &&
    schedules >= limits.minSchedules
  ) {
    const now = last.cpuMs / last.schedules;
    const level = (r: WarmUpRound) => {
      const then = r.cpuMs / r.schedules;
      return now >= then * (1 - limits.maxFall) && now <= then * (1 + limits.maxRise);
    };
    if (before.every(level)) return 'levelled';
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
