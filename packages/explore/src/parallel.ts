import { MmsimError, PctStrategy } from '@mmsim/runtime';
import {
  type ExploreOptions,
  type ExploreResult,
  findingName,
  finishExploration,
  type PctGuarantee,
  PctTally,
  pctStepsOf,
  type Resolved,
  resolve,
  type StepLimitRun,
  type StopReason,
  strategySource,
} from './explore.js';
import type { FindingKind } from './finding.js';
import { type RunOutcome, runSchedule, type Verdict } from './run-schedule.js';
import { scheduleSeed } from './seeds.js';
import type { ExplorationTarget } from './target.js';
import { checkInteger, checkTarget, invalid } from './validate.js';

/**
 * A run of consecutive schedules of one exploration (or of its shard): positions `from` (inclusive)
 * to `to` (exclusive) of the shard's schedules; position j is schedule index
 * `shard.index + j * shard.count`. Plain data, so it crosses to a worker thread.
 */
export interface ScheduleBatch {
  readonly from: number;
  readonly to: number;
  /** PCT's `steps` estimate of the exploration (0 for random), the same for every batch. */
  readonly pctSteps: number;
}

/** What one batch found; plain data. */
export interface BatchResult {
  /** Schedules run: the whole batch, or (stopping at the first finding) up to and with it. */
  readonly schedules: number;
  readonly findings: number;
  readonly findingsByKind: Readonly<Partial<Record<FindingKind, number>>>;
  /** By the failed invariant's name (other kinds: by kind). */
  readonly findingsByName: Readonly<Record<string, number>>;
  /** The schedule index of the batch's first finding, or null. */
  readonly firstIndex: number | null;
  readonly firstKind: FindingKind | null;
  /**
   * With `stepLimitApart`: the schedule index of the batch's first step-limit run, or null
   * (its step-limit runs are then not `firstIndex`; absent: none).
   */
  readonly firstStepLimitIndex?: number | null;
  /** PCT: per schedule run, in order, its task count and its decisions (empty otherwise). */
  readonly pctRuns: readonly (readonly [number, number])[];
}

/** The options `runBatch` and `exploreInBatches` accept: those of explore but live callbacks. */
export type BatchExploreOptions = Omit<ExploreOptions, 'onProgress'>;

function scheduleIndex(r: Resolved, position: number): number {
  return r.shard.index + position * r.shard.count;
}

/** How many schedules the exploration (its shard) runs at most. */
function positions(r: Resolved): number {
  const left = r.schedules - r.shard.index;
  return left <= 0 ? 0 : Math.ceil(left / r.shard.count);
}

function runOne(r: Resolved, index: number, pctSteps: number): RunOutcome {
  return runSchedule(r.setup, strategySource(r, pctSteps), scheduleSeed(r.seed, index), false);
}

/**
 * Runs one batch of a random or PCT exploration, on whichever thread calls it (a worker
 * thread builds its own `target` from plain data). With `stopOnFirst` (the default) the
 * batch ends at its first finding. Schedule i runs exactly as in `explore`.
 */
export function runBatch(
  target: ExplorationTarget,
  options: BatchExploreOptions,
  batch: ScheduleBatch,
): BatchResult {
  const t = checkTarget(target);
  const r = resolve(t, options);
  if (r.strategy.kind === 'dfs' || r.strategy.kind === 'dpor') {
    throw invalid('strategy', "'random' or 'pct' in batches", r.strategy.kind);
  }
  const end = Math.min(batch.to, positions(r));
  let schedules = 0;
  let findings = 0;
  const byKind: Partial<Record<FindingKind, number>> = {};
  const byName: Record<string, number> = {};
  let firstIndex: number | null = null;
  let firstKind: FindingKind | null = null;
  let firstStepLimitIndex: number | null = null;
  const pctRuns: [number, number][] = [];
  for (let j = batch.from; j < end; j++) {
    const index = scheduleIndex(r, j);
    const source = strategySource(r, batch.pctSteps);
    const outcome = runSchedule(r.setup, source, scheduleSeed(r.seed, index), false);
    schedules++;
    if (source.kind === 'strategy' && source.strategy instanceof PctStrategy) {
      pctRuns.push([source.strategy.tasks, outcome.tracker.choices.length]);
    }
    const kind = outcome.verdict?.kind ?? null;
    if (kind === null) continue;
    findings++;
    byKind[kind] = (byKind[kind] ?? 0) + 1;
    const name = findingName(outcome.verdict as Verdict);
    byName[name] = (byName[name] ?? 0) + 1;
    if (kind === 'step-limit' && r.stepLimitApart) {
      firstStepLimitIndex ??= index;
      continue;
    }
    if (firstIndex === null) {
      firstIndex = index;
      firstKind = kind;
    }
    if (r.stopOnFirst) break;
  }
  return {
    schedules,
    findings,
    findingsByKind: byKind,
    findingsByName: byName,
    firstIndex,
    firstKind,
    ...(r.stepLimitApart ? { firstStepLimitIndex } : {}),
    pctRuns,
  };
}

/** The most schedules in a batch of `exploreInBatches` (without the runner's `batchSize`). */
const MAX_BATCH = 64;

/** Where `exploreInBatches` runs its batches (a pool of worker threads, say). */
export interface BatchRunner {
  /** Batches run at the same time. */
  readonly parallelism: number;
  /**
   * Schedules per batch. Default: a quarter of what is left divided by `parallelism`, at
   * most 64 (batches shrink towards the end of the search).
   */
  readonly batchSize?: number;
  /**
   * Runs a batch of this exploration (for instance `runBatch` on a worker thread that built
   * the same target with the same options, `stopOnFirst` included). An aborted batch's
   * result is not needed.
   */
  run(batch: ScheduleBatch, signal: AbortSignal): Promise<BatchResult>;
}

/**
 * `explore` for random and PCT searches, with batches of schedules run by `runner` (on
 * worker threads) while this thread keeps order. The result is the one `explore` gives for
 * the same options, whatever the parallelism: schedule i always runs with the same seed; the
 * finding reported is the one with the lowest schedule index (later batches may run ahead
 * and are cancelled once not needed); the totals count the schedules up to that finding
 * (every schedule without `stopOnFirst`). Only the wall-clock figures differ, and where a
 * time budget stops the search (checked as batches finish). The finding is run again here
 * to be shrunk and recorded.
 */
export async function exploreInBatches(
  target: ExplorationTarget,
  options: ExploreOptions,
  runner: BatchRunner,
): Promise<ExploreResult> {
  const t = checkTarget(target);
  const r = resolve(t, options);
  if (r.strategy.kind === 'dfs' || r.strategy.kind === 'dpor') {
    throw invalid(
      'strategy',
      "'random' or 'pct' to run in batches (dfs and dpor run in order)",
      r.strategy.kind,
    );
  }
  const parallelism = checkInteger('parallelism', runner.parallelism, 1, 4096);
  const total = positions(r);
  const fixed =
    runner.batchSize === undefined ? null : checkInteger('batchSize', runner.batchSize, 1, 1e9);
  // Guided: a quarter of each runner's share of what is left, at most MAX_BATCH; the batches
  // shrink towards the end, so that the threads finish together.
  const sizeAt = (from: number) =>
    fixed ?? Math.max(1, Math.min(MAX_BATCH, Math.ceil((total - from) / (parallelism * 4))));
  const pctSteps = pctStepsOf(r);
  const start = performance.now();

  let next = 0; // the next position to hand out
  let lowest: number | null = null; // the lowest schedule index with a finding so far
  let lowestKind: FindingKind | null = null;
  let lowestName: string | null = null;
  let timeUp = false;
  let done = 0;
  let doneFindings = 0;
  const finished: { batch: ScheduleBatch; result: BatchResult }[] = [];
  const running = new Map<number, { batch: ScheduleBatch; abort: AbortController }>();
  let failure: unknown = null;

  const needed = (from: number) =>
    !r.stopOnFirst || lowest === null || scheduleIndex(r, from) < lowest;
  await new Promise<void>((settle) => {
    const pump = (): void => {
      while (
        failure === null &&
        (!timeUp || (lowest !== null && r.stopOnFirst)) &&
        running.size < parallelism &&
        next < total &&
        needed(next)
      ) {
        const batch: ScheduleBatch = {
          from: next,
          to: Math.min(total, next + sizeAt(next)),
          pctSteps,
        };
        next = batch.to;
        const abort = new AbortController();
        running.set(batch.from, { batch, abort });
        runner.run(batch, abort.signal).then(
          (result) => {
            running.delete(batch.from);
            if (abort.signal.aborted) return pump();
            finished.push({ batch, result });
            done += result.schedules;
            doneFindings += result.findings;
            if (result.firstIndex !== null && (lowest === null || result.firstIndex < lowest)) {
              lowest = result.firstIndex;
              lowestKind = result.firstKind;
              if (r.stopOnFirst) {
                for (const [from, other] of running) {
                  if (!needed(from)) {
                    other.abort.abort();
                    running.delete(from);
                  }
                }
              }
            }
            try {
              r.onProgress?.({
                schedule: done,
                schedules: r.schedules,
                findings: doneFindings,
                kind: result.firstKind,
                elapsedMs: performance.now() - start,
              });
            } catch (error) {
              failure ??= error;
              for (const other of running.values()) other.abort.abort();
              running.clear();
            }
            if (r.timeBudgetMs !== undefined && performance.now() - start >= r.timeBudgetMs) {
              timeUp = true;
            }
            pump();
          },
          (error: unknown) => {
            running.delete(batch.from);
            if (!abort.signal.aborted) failure ??= error;
            pump();
          },
        );
      }
      if (running.size === 0) settle();
    };
    pump();
  });
  if (failure !== null) {
    for (const other of running.values()) other.abort.abort();
    throw failure;
  }
  const elapsedMs = performance.now() - start;

  // The totals of the schedules up to the lowest finding (all of them without stopOnFirst).
  let schedules = 0;
  let findings = 0;
  const byKind: Partial<Record<FindingKind, number>> = {};
  const byName: Record<string, number> = {};
  let first: RunOutcome | null = null;
  if (lowest !== null) {
    first = runOne(r, lowest, pctSteps);
    if (first.verdict?.kind !== lowestKind) {
      throw new MmsimError(
        'REPLAY_DIVERGED',
        `target "${t.name}" is not deterministic: schedule ${lowest} gave ${lowestKind} on a worker and ${first.verdict?.kind ?? 'no finding'} here`,
      );
    }
    lowestName = findingName(first.verdict);
  }
  // Step-limit runs kept apart: the lowest-index one among the schedules counted.
  let stepLimitIndex: number | null = null;
  if (lowest !== null && r.stopOnFirst && r.stepLimitApart) {
    // The batches that end at or before the finding ran in full (the one holding it up to
    // it), and those past it are left out: the counts of explore, step-limit runs included.
    const position = Math.floor((lowest - r.shard.index) / r.shard.count);
    for (const { batch, result } of finished) {
      if (batch.from > position) continue;
      schedules += result.schedules;
      findings += result.findings;
      addCounts(byKind, byName, result);
      stepLimitIndex = lowerOf(stepLimitIndex, result.firstStepLimitIndex ?? null);
    }
  } else if (lowest !== null && r.stopOnFirst) {
    schedules = Math.floor((lowest - r.shard.index) / r.shard.count) + 1;
    findings = 1;
    byKind[lowestKind as unknown as FindingKind] = 1;
    byName[lowestName as unknown as string] = 1;
  } else {
    for (const { result } of finished) {
      schedules += result.schedules;
      findings += result.findings;
      addCounts(byKind, byName, result);
      stepLimitIndex = lowerOf(stepLimitIndex, result.firstStepLimitIndex ?? null);
    }
  }
  let stepLimit: StepLimitRun | null = null;
  if (stepLimitIndex !== null) {
    const run = runOne(r, stepLimitIndex, pctSteps);
    if (run.verdict?.kind !== 'step-limit') {
      throw new MmsimError(
        'REPLAY_DIVERGED',
        `target "${t.name}" is not deterministic: schedule ${stepLimitIndex} gave step-limit on a worker and ${run.verdict?.kind ?? 'no finding'} here`,
      );
    }
    stepLimit = { index: stepLimitIndex, replay: run.token };
  }
  let stoppedBy: StopReason;
  if (lowest !== null && r.stopOnFirst) stoppedBy = 'finding';
  else if (timeUp && schedules < total) stoppedBy = 'time';
  else stoppedBy = 'schedules';

  return finishExploration(t, r, first, lowest, {
    schedules,
    findings,
    findingsByKind: byKind,
    findingsByName: byName,
    stoppedBy,
    exhausted: false,
    classes: null,
    pct: pctGuaranteeOf(r, finished, pctSteps, schedules),
    elapsedMs,
    stepLimit,
  });
}

function lowerOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

/** Adds a batch's counts by kind and by name to the totals. */
function addCounts(
  byKind: Partial<Record<FindingKind, number>>,
  byName: Record<string, number>,
  result: BatchResult,
): void {
  for (const [kind, n] of Object.entries(result.findingsByKind)) {
    byKind[kind as FindingKind] = (byKind[kind as FindingKind] ?? 0) + (n as number);
  }
  for (const [name, n] of Object.entries(result.findingsByName)) {
    byName[name] = (byName[name] ?? 0) + n;
  }
}

/**
 * PCT's guarantee over the first `schedules` schedules of the shard, tallied in schedule
 * order from the batches' runs, as the sequential search tallies it; null for random.
 */
function pctGuaranteeOf(
  r: Resolved,
  finished: readonly { batch: ScheduleBatch; result: BatchResult }[],
  pctSteps: number,
  schedules: number,
): PctGuarantee | null {
  if (r.strategy.kind !== 'pct') return null;
  const tally = new PctTally(r.strategy.depth);
  const ordered = [...finished].sort((a, b) => a.batch.from - b.batch.from);
  let left = schedules;
  for (const { result } of ordered) {
    for (const [tasks, decisions] of result.pctRuns) {
      if (left-- <= 0) break;
      tally.addRun(tasks, pctSteps, decisions);
    }
  }
  return tally.guarantee();
}
