import {
  type DecisionAlternatives,
  DepthFirstSchedules,
  DPOR_SPLIT_DECISIONS,
  DporSearch,
  type DporStrategy,
  type FaultSpec,
  FootprintLog,
  MAX_SEED,
  MmsimError,
  PctStrategy,
  RandomStrategy,
} from '@mmsim/runtime';
import { type CheckOptions, validateCheckOptions } from './checks.js';
import type { Finding, FindingKind } from './finding.js';
import {
  findingOf,
  type RunOutcome,
  type RunSetup,
  runSchedule,
  type ScheduleSource,
  type Verdict,
} from './run-schedule.js';
import { scheduleSeed } from './seeds.js';
import { DEFAULT_SHRINK_REPLAYS, type ShrinkResult, shrinkFinding } from './shrink.js';
import type { ExplorationTarget } from './target.js';
import {
  checkFaults,
  checkInteger,
  checkKeys,
  checkObject,
  checkTarget,
  invalid,
} from './validate.js';

/**
 * How schedules are chosen:
 * - `'random'`: a uniformly random task at every decision;
 * - `{ kind: 'pct', depth, steps }` (or `'pct'`): PCT with bug depth `depth` (default 3);
 *   `steps` (the expected number of decisions k) defaults to the decisions of one calibration
 *   run (the target under the random strategy with the exploration's own seed, not counted as
 *   a schedule), the same for every schedule, so schedule i depends on its index only and
 *   runs the same on any worker or shard;
 * - `{ kind: 'dfs', preemptionBound }` (or `'dfs'`): every schedule with at most
 *   `preemptionBound` preemptions (default 2), depth first, until exhausted.
 * - `{ kind: 'dpor', preemptionBound }` (or `'dpor'`): dynamic partial-order reduction
 *   (`DporSearch`) within `preemptionBound` preemptions (default 2), until exhausted: one
 *   schedule per interleaving class the dependence relation tells apart (docs/exploration.md).
 *   Its first `DPOR_SPLIT_DECISIONS` decisions are explored in full, sharded or not.
 */
export type ExploreStrategy =
  | 'random'
  | 'pct'
  | 'dfs'
  | { readonly kind: 'pct'; readonly depth?: number; readonly steps?: number }
  | { readonly kind: 'dfs'; readonly preemptionBound?: number }
  | 'dpor'
  | { readonly kind: 'dpor'; readonly preemptionBound?: number };

/** Called after every schedule, so a command line can draw a progress bar. */
export interface ExploreProgress {
  /** Schedules run so far (1 on the first call). */
  readonly schedule: number;
  /** The schedule limit. */
  readonly schedules: number;
  /** Schedules with a finding so far. */
  readonly findings: number;
  /** The kind of this schedule's finding, or null. */
  readonly kind: FindingKind | null;
  /** Wall-clock time since the exploration started. */
  readonly elapsedMs: number;
}

export interface ExploreOptions extends CheckOptions {
  /** Default `'random'`. */
  readonly strategy?: ExploreStrategy;
  /** At most this many schedules. Default 1000 (100 000 for DFS and DPOR). */
  readonly schedules?: number;
  /** Schedule i runs with `scheduleSeed(seed, i)` (DFS: every schedule with `seed`). Default 1. */
  readonly seed?: number;
  /** Stop after this much wall-clock time (checked between schedules). */
  readonly timeBudgetMs?: number;
  /** Fault specs, applied to every instance (`rt.faults.configure`). */
  readonly faults?: Readonly<Record<string, FaultSpec>>;
  /** Stop at the first schedule with a finding. Default true. */
  readonly stopOnFirst?: boolean;
  /**
   * Keep step-limit runs apart (default false): they are still counted (`findings`,
   * `findingsByKind['step-limit']`), but they neither stop the search nor become the reported
   * finding; the reported finding is the lowest-index one of another kind, and the
   * lowest-index step-limit run is given in `stepLimit`. Campaigns use it so that a legal but
   * unbounded schedule early in a cell does not hide a later deadlock or failed invariant.
   */
  readonly stepLimitApart?: boolean;
  readonly onProgress?: (progress: ExploreProgress) => void;
  /** Steps per run before it counts as a `step-limit` finding. Default 100 000. */
  readonly maxSteps?: number;
  /** Shrink the first finding (default true, with at most 200 candidate runs). */
  readonly shrink?: boolean | { readonly maxReplays?: number };
  /**
   * Run only the schedule indices i < `schedules` with `i % count === index` (random and
   * PCT): shard `index` of `count`. DPOR: the subtrees below the search's top decisions
   * numbered i with `i % count === index` (see `DporSearch`), up to `schedules` executions
   * in all as for the other strategies. The shards of one exploration together run exactly
   * the schedules of the unsharded exploration. Default: every index.
   */
  readonly shard?: ExploreShard;
}

/** Shard `index` (0-based) of `count`: the schedule indices i with `i % count === index`. */
export interface ExploreShard {
  readonly index: number;
  readonly count: number;
}

/** A schedule that did not end within the step limit (see `ExploreOptions.stepLimitApart`). */
export interface StepLimitRun {
  readonly index: number;
  readonly replay: string;
}

/** Why the search stopped. */
export type StopReason = 'finding' | 'schedules' | 'time' | 'exhausted';

export interface ExploreResult {
  readonly found: boolean;
  readonly kind: FindingKind | null;
  /** The failed invariant's name, for kind `invariant`. */
  readonly invariant: string | null;
  /** The finding's one-line message, or a summary of a search that found nothing. */
  readonly message: string;
  /** Replay token of the reported finding (the shrunk schedule when shrinking ran). */
  readonly replay: string | null;
  /** The reported finding, shrunk when shrinking ran, with its steps recorded. */
  readonly finding: Finding | null;
  /** The first finding as the search met it, before shrinking. */
  readonly original: Finding | null;
  /** The schedule index of the original finding (its seed is `scheduleSeed(seed, index)`), or null. */
  readonly findingIndex: number | null;
  /**
   * DPOR: the number of the subtree of the search (`DporSearch.subtree`, the same in every
   * shard) the original finding's run belongs to; the shards' findings merge to the lowest
   * (subtree, then index). Null for the other strategies.
   */
  readonly findingSubtree: number | null;
  /** What shrinking did, or null when it did not run. */
  readonly shrink: ShrinkResult | null;
  /** Schedules run. */
  readonly schedules: number;
  /** Schedules with a finding (more than one only with `stopOnFirst: false`). */
  readonly findings: number;
  readonly findingsByKind: Readonly<Partial<Record<FindingKind, number>>>;
  /** Schedules with a finding by the failed invariant's name (other kinds: by kind). */
  readonly findingsByName: Readonly<Record<string, number>>;
  readonly stoppedBy: StopReason;
  /** DFS and DPOR: every schedule within the preemption bound was covered. */
  readonly exhausted: boolean;
  /** DFS and DPOR: the preemption bound; null for random and PCT. */
  readonly bound: number | null;
  /**
   * Runs made (equal to `schedules`; DPOR counts its sleep-set blocked runs here too, and
   * not the probes a shard runs of the other shards' subtrees).
   */
  readonly executions: number;
  /**
   * DFS and DPOR: the interleaving classes the runs covered (Mazurkiewicz traces under the
   * step dependence relation: runs that differ only in the order of independent steps are
   * one class): the distinct classes among the runs (DPOR: among those that were not
   * sleep-set blocked; a bounded DPOR can run two of one class). Null for random and PCT.
   */
  readonly classes: number | null;
  /**
   * DPOR: the 53-bit hashes of the interleaving classes counted in `classes` (`runClassHash`
   * in `@mmsim/explore/internal`), ascending, so that the classes of several shards of one
   * search can be united (`mmsim merge`); absent for the other strategies.
   */
  readonly classHashes?: readonly number[];
  /** PCT only: the probabilistic guarantee of the schedules run (`PctGuarantee`). */
  readonly pct: PctGuarantee | null;
  /**
   * With `stepLimitApart`: the lowest-index step-limit run among the schedules counted, its
   * index and the replay token of the run as met (not shrunk); otherwise null.
   */
  readonly stepLimit: StepLimitRun | null;
  /** Wall-clock time of the search (not of shrinking); differs between equal explorations. */
  readonly elapsedMs: number;
  readonly schedulesPerSecond: number | undefined;
}

/**
 * What PCT's schedules guarantee (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS
 * 2010, Theorem 1): a schedule finds a given bug of depth `depth` with probability at
 * least 1 / (n k^(d-1)), n the tasks and k the decisions of the run. A schedule counts
 * only when its change points were spread over at least the decisions it made (PCT's
 * `steps` >= its decisions); the first schedules of an exploration, whose `steps` is
 * still a guess, may not.
 */
export interface PctGuarantee {
  readonly depth: number;
  /** The most tasks any schedule had (n). */
  readonly tasks: number;
  /** The largest k any counted schedule used. */
  readonly steps: number;
  /** Schedules that count towards the guarantee. */
  readonly schedulesCounted: number;
  /** The lowest per-schedule probability among the counted schedules: 1 / (n k^(d-1)). */
  readonly perSchedule: number;
  /** 1 - prod(1 - p_i) over the counted schedules: at least 1 - (1 - perSchedule)^S. */
  readonly cumulative: number;
}

type ResolvedStrategy =
  | { readonly kind: 'random' }
  | { readonly kind: 'pct'; readonly depth: number; readonly steps: number | undefined }
  | { readonly kind: 'dfs'; readonly preemptionBound: number }
  | { readonly kind: 'dpor'; readonly preemptionBound: number };

/** The option names `explore` takes (anything else is refused, or, for a scenario, passed to it). */
export const EXPLORE_OPTION_KEYS: readonly string[] = [
  'strategy',
  'schedules',
  'seed',
  'timeBudgetMs',
  'faults',
  'stopOnFirst',
  'stepLimitApart',
  'onProgress',
  'maxSteps',
  'shrink',
  'disable',
  'invariants',
  'shard',
];

const STRATEGY_FORM =
  "'random', 'pct', 'dfs', 'dpor', { kind: 'pct', depth?, steps? }, { kind: 'dfs', preemptionBound? } " +
  "or { kind: 'dpor', preemptionBound? }";

function resolveStrategy(spec: unknown): ResolvedStrategy {
  if (spec === 'random') return { kind: 'random' };
  if (spec === 'pct') return { kind: 'pct', depth: 3, steps: undefined };
  if (spec === 'dfs') return { kind: 'dfs', preemptionBound: 2 };
  if (spec === 'dpor') return { kind: 'dpor', preemptionBound: 2 };
  if (typeof spec === 'object' && spec !== null) {
    const s = spec as Record<string, unknown>;
    if (s.kind === 'pct') {
      checkKeys('strategy', s, ['kind', 'depth', 'steps']);
      const depth = checkInteger('strategy.depth', s.depth ?? 3, 1, 1000);
      const steps =
        s.steps === undefined ? undefined : checkInteger('strategy.steps', s.steps, 1, 1e9);
      return { kind: 'pct', depth, steps };
    }
    if (s.kind === 'dfs' || s.kind === 'dpor') {
      checkKeys('strategy', s, ['kind', 'preemptionBound']);
      const bound = checkInteger('strategy.preemptionBound', s.preemptionBound ?? 2, 0, 1000);
      return { kind: s.kind, preemptionBound: bound };
    }
  }
  throw invalid('strategy', STRATEGY_FORM, spec);
}

/** @internal The checked options of one exploration. */
export interface Resolved {
  readonly strategy: ResolvedStrategy;
  readonly shard: ExploreShard;
  readonly schedules: number;
  readonly seed: number;
  readonly timeBudgetMs: number | undefined;
  readonly stopOnFirst: boolean;
  readonly stepLimitApart: boolean;
  readonly onProgress: ((progress: ExploreProgress) => void) | undefined;
  readonly shrinkReplays: number | null;
  readonly setup: RunSetup;
}

/** @internal */
export function resolve(target: ExplorationTarget, options: ExploreOptions): Resolved {
  const o = checkObject('explore options', options);
  checkKeys('explore options', o, EXPLORE_OPTION_KEYS);
  validateCheckOptions(options, 'explore options');
  const strategy = resolveStrategy(o.strategy ?? 'random');
  const schedules = checkInteger(
    'schedules',
    o.schedules ?? (strategy.kind === 'dfs' || strategy.kind === 'dpor' ? 100_000 : 1000),
    1,
    1e9,
  );
  const seed = checkInteger('seed', o.seed ?? 1, 0, MAX_SEED);
  const budget = o.timeBudgetMs;
  if (budget !== undefined && !(typeof budget === 'number' && budget > 0 && budget < Infinity)) {
    throw invalid('timeBudgetMs', 'a positive finite number of milliseconds', budget);
  }
  const stopOnFirst = o.stopOnFirst ?? true;
  if (typeof stopOnFirst !== 'boolean') throw invalid('stopOnFirst', 'a boolean', stopOnFirst);
  const stepLimitApart = o.stepLimitApart ?? false;
  if (typeof stepLimitApart !== 'boolean') {
    throw invalid('stepLimitApart', 'a boolean', stepLimitApart);
  }
  const onProgress = o.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw invalid('onProgress', 'a function', onProgress);
  }
  const maxSteps = checkInteger('maxSteps', o.maxSteps ?? 100_000, 1, 1e9);
  let shard: ExploreShard = { index: 0, count: 1 };
  if (o.shard !== undefined) {
    const sh = checkObject('shard', o.shard);
    checkKeys('shard', sh, ['index', 'count']);
    const count = checkInteger('shard.count', sh.count, 1, 1e6);
    shard = { index: checkInteger('shard.index', sh.index, 0, count - 1), count };
    if (count > 1 && strategy.kind === 'dfs') {
      throw invalid(
        'shard',
        'absent for the dfs strategy (it searches one tree in order)',
        o.shard,
      );
    }
  }
  const faults = o.faults === undefined ? {} : checkFaults('faults', o.faults);
  const shrink = o.shrink ?? true;
  let shrinkReplays: number | null;
  if (shrink === true) shrinkReplays = DEFAULT_SHRINK_REPLAYS;
  else if (shrink === false) shrinkReplays = null;
  else {
    const s = checkObject('shrink', shrink);
    checkKeys('shrink', s, ['maxReplays']);
    shrinkReplays = checkInteger(
      'shrink.maxReplays',
      s.maxReplays ?? DEFAULT_SHRINK_REPLAYS,
      0,
      1e6,
    );
  }
  return {
    strategy,
    shard,
    schedules,
    seed,
    timeBudgetMs: budget as number | undefined,
    stopOnFirst,
    stepLimitApart,
    onProgress: onProgress as Resolved['onProgress'],
    shrinkReplays,
    setup: {
      target,
      checks: { disable: options.disable, invariants: options.invariants },
      faults,
      maxSteps,
      releaseInstances: true,
    },
  };
}

/** The guarantee line of an exhausted DFS or DPOR search. */
export function exhaustedLine(bound: number, executions: number, classes: number): string {
  return (
    `exhausted: every schedule up to preemption bound ${bound} explored — ` +
    `${executions} executions covering ${classes} interleaving classes`
  );
}

/** The text form of a PCT guarantee. */
export function pctGuaranteeLine(g: PctGuarantee): string {
  const pct = (x: number) => `${(x * 100).toPrecision(3)}%`;
  return (
    `pct guarantee: a bug of depth ${g.depth} is found with probability >= ${g.perSchedule.toExponential(3)} ` +
    `per schedule (1/(n k^(d-1)), n ${g.tasks} tasks, k ${g.steps} decisions), >= ${pct(g.cumulative)} ` +
    `over the ${g.schedulesCounted} schedule(s) that count`
  );
}

function summary(
  r: Resolved,
  schedules: number,
  stoppedBy: StopReason,
  classes: number | null,
): string {
  const s = r.strategy;
  if ((s.kind === 'dfs' || s.kind === 'dpor') && stoppedBy === 'exhausted') {
    return exhaustedLine(s.preemptionBound, schedules, classes ?? schedules);
  }
  const which =
    s.kind === 'dfs' || s.kind === 'dpor'
      ? `${s.kind} (preemption bound ${s.preemptionBound}; not exhausted)`
      : s.kind;
  if (stoppedBy === 'time') {
    return `no finding in ${schedules} ${which} schedule(s): the time budget of ${r.timeBudgetMs} ms ran out`;
  }
  return `no finding in ${schedules} ${which} schedule(s) (the schedule limit)`;
}

/**
 * Runs schedules of `target` until one goes wrong (a deadlock, a failed invariant, a
 * failed check of the target's, a step limit, a crash), the schedule limit or time budget is
 * reached, or (DFS) the bounded space is exhausted; then shrinks the first finding and
 * records its steps. Every instance is checked after each step and at the end. The same
 * options give the same result, apart from the wall-clock figures and where a time budget
 * stops the search. Bad options throw `INVALID_CONFIG` before any schedule runs.
 */
export function explore(target: ExplorationTarget, options: ExploreOptions = {}): ExploreResult {
  const t = checkTarget(target);
  const r = resolve(t, options);
  const { strategy } = r;
  // Preemption-bounded DFS (CHESS): the runtime's enumerator, the running task as default.
  const dfs = strategy.kind === 'dfs' ? new DepthFirstSchedules(strategy.preemptionBound) : null;
  // DPOR: the runtime's search; runs record their footprints into one log. Its top
  // decisions are explored in full (sharded or not, so that the shards of a search run
  // exactly its executions), and a shard runs the subtrees below them that it owns.
  const dpor =
    strategy.kind === 'dpor'
      ? new DporSearch({
          preemptionBound: strategy.preemptionBound,
          splitDecisions: DPOR_SPLIT_DECISIONS,
          shard: r.shard,
        })
      : null;
  const footprints = dfs !== null || dpor !== null ? new FootprintLog() : null;
  const dfsClasses = dfs !== null ? new Set<string>() : null;
  const pct = strategy.kind === 'pct' ? new PctTally(strategy.depth) : null;
  const pctSteps = pctStepsOf(r);
  const start = performance.now();
  let schedules = 0;
  let findings = 0;
  const byKind: Partial<Record<FindingKind, number>> = {};
  const byName: Record<string, number> = {};
  let first: RunOutcome | null = null;
  let firstIndex: number | null = null;
  let firstSubtree: number | null = null;
  let stepLimitRun: RunOutcome | null = null;
  let stepLimitIndex = -1;
  let stoppedBy: StopReason;
  for (;;) {
    if ((dfs !== null && dfs.next === null) || dpor?.exhausted === true) {
      stoppedBy = 'exhausted';
      break;
    }
    const index = r.shard.index + schedules * r.shard.count;
    if (index >= r.schedules) {
      stoppedBy = 'schedules';
      break;
    }
    let source: ScheduleSource;
    let seed = r.seed;
    let dporRun: DporStrategy | null = null;
    let pctRun: PctStrategy | null = null;
    if (dfs !== null) {
      footprints?.clear();
      source = { kind: 'guided', choices: dfs.next ?? [], mode: 'prefix' };
    } else if (dpor !== null) {
      dporRun = dpor.nextStrategy(footprints as FootprintLog) as DporStrategy;
      source = { kind: 'strategy', strategy: dporRun };
    } else {
      seed = scheduleSeed(r.seed, index);
      source = strategySource(r, pctSteps);
      if (source.kind === 'strategy' && source.strategy instanceof PctStrategy) {
        pctRun = source.strategy;
      }
    }
    const outcome = runSchedule(r.setup, source, seed, false, dfs !== null, footprints);
    if (dpor !== null && !dpor.owned) {
      // A probe of a subtree another shard owns: not one of this shard's schedules.
      dpor.finish(dporRun as DporStrategy, outcome.abandoned);
      if (r.timeBudgetMs !== undefined && performance.now() - start >= r.timeBudgetMs) {
        stoppedBy = 'time';
        break;
      }
      continue;
    }
    const subtree = dpor?.subtree ?? null;
    schedules++;
    if (dfs !== null) {
      dfs.advance(outcome.tracker.choices, outcome.tracker.alternatives as DecisionAlternatives[]);
      (footprints as FootprintLog).end(); // a crashed run leaves its last step open
      dfsClasses?.add((footprints as FootprintLog).classKey());
    }
    if (dpor !== null) dpor.finish(dporRun as DporStrategy, outcome.abandoned);
    if (pctRun !== null) pct?.add(pctRun, outcome.tracker.choices.length);
    const kind = outcome.verdict?.kind ?? null;
    if (kind !== null) {
      findings++;
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      const name = findingName(outcome.verdict as Verdict);
      byName[name] = (byName[name] ?? 0) + 1;
      if (kind === 'step-limit' && r.stepLimitApart) {
        if (stepLimitRun === null) {
          stepLimitRun = outcome;
          stepLimitIndex = index;
        }
      } else if (first === null) {
        first = outcome;
        firstIndex = index;
        firstSubtree = subtree;
      }
    }
    // One clock read a schedule serves the progress report and the time budget.
    const onProgress = r.onProgress;
    const budget = r.timeBudgetMs;
    const now = onProgress !== undefined || budget !== undefined ? performance.now() : 0;
    onProgress?.({
      schedule: schedules,
      schedules: r.schedules,
      findings,
      kind,
      elapsedMs: now - start,
    });
    if (first !== null && r.stopOnFirst) {
      stoppedBy = 'finding';
      break;
    }
    if (budget !== undefined && now - start >= budget) {
      stoppedBy = 'time';
      break;
    }
  }
  const elapsedMs = performance.now() - start;
  return finishExploration(t, r, first, firstIndex, {
    schedules,
    findings,
    findingsByKind: byKind,
    findingsByName: byName,
    stoppedBy,
    exhausted: (dfs !== null && dfs.next === null) || dpor?.exhausted === true,
    classes: dpor !== null ? dpor.classes : dfsClasses !== null ? dfsClasses.size : null,
    ...(dpor === null ? {} : { classHashes: dpor.classHashes }),
    findingSubtree: firstSubtree,
    pct: pct?.guarantee() ?? null,
    elapsedMs,
    stepLimit: stepLimitRun === null ? null : { index: stepLimitIndex, replay: stepLimitRun.token },
  });
}

/** @internal What the search counted, before the finding is shrunk. */
export interface SearchTotals {
  readonly schedules: number;
  readonly findings: number;
  readonly findingsByKind: Readonly<Partial<Record<FindingKind, number>>>;
  readonly findingsByName: Readonly<Record<string, number>>;
  readonly stoppedBy: StopReason;
  readonly exhausted: boolean;
  /** Interleaving classes (DPOR, DFS), else null. */
  readonly classes: number | null;
  /** DPOR: the hashes of the classes counted (`ExploreResult.classHashes`), in any order. */
  readonly classHashes?: Iterable<number>;
  /** PCT's guarantee over the schedules run, else null. */
  readonly pct: PctGuarantee | null;
  /** DPOR: the subtree number (`DporSearch.subtree`) of the first finding's run. */
  readonly findingSubtree?: number | null;
  readonly elapsedMs: number;
  /** With `stepLimitApart`: the lowest-index step-limit run counted (absent: none). */
  readonly stepLimit?: StepLimitRun | null;
}

/** @internal How findings are counted by name: the invariant's name, else the kind. */
export function findingName(verdict: Verdict): string {
  return verdict.kind === 'invariant' ? verdict.invariant : verdict.kind;
}

/**
 * @internal PCT's `steps` estimate, the same for every schedule of an exploration: the one
 * given, else the decisions of a calibration run (the target under the random strategy with
 * the exploration's seed itself, which no schedule uses: schedule i runs with
 * `scheduleSeed(seed, i)`). 0 for the other strategies.
 */
export function pctStepsOf(r: Resolved): number {
  const s = r.strategy;
  if (s.kind !== 'pct') return 0;
  if (s.steps !== undefined) return s.steps;
  const calibration = runSchedule(
    r.setup,
    { kind: 'strategy', strategy: new RandomStrategy() },
    r.seed,
    false,
  );
  return Math.max(1, calibration.tracker.choices.length);
}

/** @internal The strategy of a random or PCT schedule (a fresh one per schedule). */
export function strategySource(r: Resolved, pctSteps: number): ScheduleSource {
  const s = r.strategy;
  return {
    kind: 'strategy',
    strategy:
      s.kind === 'pct'
        ? new PctStrategy({ depth: s.depth, steps: pctSteps })
        : new RandomStrategy(),
  };
}

/** @internal Shrinks and records the first finding and builds the result. */
export function finishExploration(
  t: ExplorationTarget,
  r: Resolved,
  first: RunOutcome | null,
  firstIndex: number | null,
  totals: SearchTotals,
): ExploreResult {
  const { schedules, findings, stoppedBy, elapsedMs } = totals;
  let original: Finding | null = null;
  let finding: Finding | null = null;
  let shrunk: ShrinkResult | null = null;
  if (first !== null) {
    original = findingOf(first, t.name) as Finding;
    if (r.shrinkReplays !== null) {
      shrunk = shrinkFinding(r.setup, original, first.token, r.shrinkReplays);
      finding = shrunk.finding;
    } else {
      const recorded = runSchedule(
        r.setup,
        { kind: 'guided', choices: first.tracker.choices, mode: 'replay' },
        first.seed,
        true,
      );
      finding = findingOf(recorded, t.name);
      if (finding === null || finding.kind !== original.kind) {
        throw new MmsimError(
          'REPLAY_DIVERGED',
          `target "${t.name}" is not deterministic: replaying a ${original.kind} schedule gave ${finding?.kind ?? 'no finding'}`,
        );
      }
    }
  }
  return {
    found: finding !== null,
    kind: finding?.kind ?? null,
    invariant: finding?.kind === 'invariant' ? finding.invariant : null,
    message: finding?.message ?? summary(r, schedules, stoppedBy, totals.classes),
    replay: finding?.replay ?? null,
    finding,
    original,
    findingIndex: first === null ? null : firstIndex,
    findingSubtree: first === null ? null : (totals.findingSubtree ?? null),
    shrink: shrunk,
    schedules,
    findings,
    findingsByKind: totals.findingsByKind,
    findingsByName: totals.findingsByName,
    stoppedBy,
    exhausted: totals.exhausted,
    bound:
      r.strategy.kind === 'dfs' || r.strategy.kind === 'dpor' ? r.strategy.preemptionBound : null,
    executions: schedules,
    classes: totals.classes,
    ...(totals.classHashes === undefined ? {} : { classHashes: ascending(totals.classHashes) }),
    pct: totals.pct,
    stepLimit: totals.stepLimit ?? null,
    elapsedMs,
    schedulesPerSecond: elapsedMs > 0 ? (schedules * 1000) / elapsedMs : undefined,
  };
}

/** The numbers of `values` in ascending order (an array of its own). */
function ascending(values: Iterable<number>): number[] {
  return Array.from(Float64Array.from(values).sort());
}

/** Sums up PCT's per-schedule guarantee over the schedules of an exploration. */
/** @internal PCT's guarantee, tallied schedule by schedule (Burckhardt et al., ASPLOS 2010). */
export class PctTally {
  readonly #depth: number;
  #tasks = 0;
  #steps = 0;
  #counted = 0;
  #lowest = 1;
  /** prod(1 - p_i) over the counted schedules. */
  #miss = 1;

  constructor(depth: number) {
    this.#depth = depth;
  }

  add(run: PctStrategy, decisions: number): void {
    this.addRun(run.tasks, run.steps, decisions);
  }

  /** A schedule of `n` tasks run with PCT's `steps` that made `decisions` decisions. */
  addRun(n: number, steps: number, decisions: number): void {
    if (n > this.#tasks) this.#tasks = n;
    if (decisions > steps || n === 0) return;
    const p = 1 / (n * steps ** (this.#depth - 1));
    this.#counted++;
    if (steps > this.#steps) this.#steps = steps;
    if (p < this.#lowest) this.#lowest = p;
    this.#miss *= 1 - p;
  }

  guarantee(): PctGuarantee {
    const counted = this.#counted;
    return {
      depth: this.#depth,
      tasks: this.#tasks,
      steps: this.#steps,
      schedulesCounted: counted,
      perSchedule: counted === 0 ? 0 : this.#lowest,
      // 12 significant digits: the same figure whatever order the factors were multiplied in
      // (shards and worker batches multiply them in groups).
      cumulative: Number((1 - this.#miss).toPrecision(12)),
    };
  }
}
