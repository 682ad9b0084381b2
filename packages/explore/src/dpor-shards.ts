import {
  DPOR_SPLIT_DECISIONS,
  DporSearch,
  type DporStrategy,
  FootprintLog,
  MmsimError,
} from '@mmsim/runtime';
import {
  type ExploreOptions,
  type ExploreResult,
  findingName,
  finishExploration,
  type Resolved,
  resolve,
  type StepLimitRun,
  type StopReason,
} from './explore.js';
import type { FindingKind } from './finding.js';
import type { BatchExploreOptions } from './parallel.js';
import { type RunOutcome, runSchedule, type Verdict } from './run-schedule.js';
import type { ExplorationTarget } from './target.js';
import { checkInteger, checkTarget, invalid } from './validate.js';

/**
 * A DPOR search run as several shards at once (on worker threads) and merged into exactly
 * the result of the search on one thread.
 *
 * A DPOR search explores its first `DPOR_SPLIT_DECISIONS` decisions in full, and the
 * subtrees below them depend on no race found outside them (`DporSearch`, sharding): the
 * same runs happen in a subtree whichever shard explores it, in the same order. So each
 * shard records, per subtree it owns, what the one-thread search needs to count: its runs,
 * the runs with a finding, and the interleaving classes it met first (by a hash of the
 * class, `runClassHash`). `mergeDporShards` then walks the subtrees in the one-thread
 * search's order and stops where it would (its first finding, its schedule limit): the
 * executions, classes (the union of the shards' sets, not the sum of their counts), findings
 * and the finding itself are the one-thread search's, whatever the number of shards.
 */

/** What one shard met in one subtree it owns (plain data: it crosses to the merging thread). */
export interface DporSubtreeRecord {
  /** The subtree's number (`DporSearch.subtree`, the same in every shard). */
  readonly subtree: number;
  /** Runs of the subtree explored (abandoned ones included), in the search's order. */
  readonly runs: number;
  /** Whether every run of the subtree was explored (not cut by a limit, finding or time). */
  readonly complete: boolean;
  /**
   * The interleaving classes this shard met first in this subtree: per class, the run's
   * position in the subtree and the class hash (`runClassHash`). Positions ascend.
   */
  readonly classAt: readonly number[];
  readonly classHash: readonly number[];
  /** The runs with a finding: position in the subtree, kind and name (`findingName`). */
  readonly findingAt: readonly number[];
  readonly findingKind: readonly FindingKind[];
  readonly findingName: readonly string[];
  /** The first run with a finding other than a step limit kept apart: its decisions. */
  readonly first: { readonly position: number; readonly choices: readonly number[] } | null;
  /** With `stepLimitApart`: the subtree's first step-limit run and its replay token. */
  readonly firstStepLimit: { readonly position: number; readonly token: string } | null;
}

/** What one shard of a DPOR search found (plain data). */
export interface DporShardResult {
  /** The shard run: `index` of `count` (within the exploration's own shard, if any). */
  readonly index: number;
  readonly count: number;
  /** Its search ran to the end (every subtree it owns explored, every other one probed). */
  readonly exhausted: boolean;
  /** Subtrees met (all of the search's when exhausted). */
  readonly subtrees: number;
  /**
   * Why it stopped: `exhausted`, `schedules`, `finding`, `time`, `cut` (`stopAt`) or
   * `interrupted` (`DporShardRun.interrupted`).
   */
  readonly stoppedBy: StopReason | 'cut' | 'interrupted';
  /** The subtrees it owns that it explored, in order. */
  readonly records: readonly DporSubtreeRecord[];
}

/** Options of one shard's run besides the exploration's. */
export interface DporShardRun {
  /** Sub-shard `index` of `count` of the exploration (of its own shard, if it has one). */
  readonly index: number;
  readonly count: number;
  /** Stop at this `Date.now()` (the exploration's time budget). */
  readonly deadline?: number;
  /**
   * Called before each run with the subtree it belongs to: the shard stops (`cut`) when
   * it returns true (an earlier subtree already has a finding; throwing stops it too).
   */
  readonly stopAt?: (subtree: number) => boolean;
  /** Called with the subtree of the shard's first finding (other shards may stop past it). */
  readonly onFirst?: (subtree: number) => void;
  /**
   * Called before each run (probes too): the shard stops (`interrupted`) when it returns
   * true, its last subtree incomplete. On a worker thread, a flag the command's thread sets
   * on Ctrl-C (`DporShardRunner.stop`), so that a long sub-shard stops within one run.
   */
  readonly interrupted?: () => boolean;
}

/** The DPOR strategy's bound, or a config error for another strategy. */
function dporBound(r: Resolved): number {
  if (r.strategy.kind !== 'dpor') {
    throw invalid('strategy', "'dpor' to run in DPOR shards", r.strategy.kind);
  }
  return r.strategy.preemptionBound;
}

/** The executions of the exploration (of its shard) at most: `--schedules` split as explore does. */
function positions(r: Resolved): number {
  const left = r.schedules - r.shard.index;
  return left <= 0 ? 0 : Math.ceil(left / r.shard.count);
}

/**
 * Runs sub-shard `run.index` of `run.count` of a DPOR exploration (of its shard
 * `options.shard`, if it has one: sub-shard j of M of shard k of N is shard k + N j of N M
 * of the search) on this thread, and records per subtree what `mergeDporShards` needs.
 * Each run happens exactly as in `explore`.
 */
export function runDporShard(
  target: ExplorationTarget,
  options: BatchExploreOptions,
  run: DporShardRun,
): DporShardResult {
  const t = checkTarget(target);
  const r = resolve(t, options);
  const bound = dporBound(r);
  const count = checkInteger('count', run.count, 1, 1e6);
  const index = checkInteger('index', run.index, 0, count - 1);
  const search = new DporSearch({
    preemptionBound: bound,
    splitDecisions: DPOR_SPLIT_DECISIONS,
    shard: { index: r.shard.index + r.shard.count * index, count: r.shard.count * count },
  });
  const footprints = footprintLogOf(t);
  const limit = positions(r);
  const records: DporSubtreeRecord[] = [];
  let current: MutableRecord | null = null;
  let stoppedBy: StopReason | 'cut' | 'interrupted' = 'exhausted';
  const close = (complete: boolean): void => {
    if (current === null) return;
    records.push({ ...current, complete });
    current = null;
  };
  for (;;) {
    if (search.exhausted) break;
    if (search.executions >= limit) {
      stoppedBy = 'schedules';
      break;
    }
    if (run.deadline !== undefined && Date.now() >= run.deadline) {
      stoppedBy = 'time';
      break;
    }
    if (run.interrupted?.() === true) {
      stoppedBy = 'interrupted';
      break;
    }
    const strategy = search.nextStrategy(footprints) as DporStrategy;
    const subtree = search.subtree;
    const owned = search.owned;
    if (current !== null && current.subtree !== subtree) close(true);
    if (owned && run.stopAt?.(subtree) === true) {
      stoppedBy = 'cut';
      break;
    }
    const classesBefore = search.classes;
    const outcome = runSchedule(
      r.setup,
      { kind: 'strategy', strategy },
      r.seed,
      false,
      false,
      footprints,
    );
    search.finish(strategy, outcome.abandoned);
    if (!owned) continue;
    current ??= emptyRecord(subtree);
    const rec: MutableRecord = current;
    const position = rec.runs++;
    if (search.classes > classesBefore) {
      rec.classAt.push(position);
      rec.classHash.push(runClassHash(footprints));
    }
    const kind = outcome.verdict?.kind ?? null;
    if (kind === null) continue;
    rec.findingAt.push(position);
    rec.findingKind.push(kind);
    rec.findingName.push(findingName(outcome.verdict as Verdict));
    if (kind === 'step-limit' && r.stepLimitApart) {
      rec.firstStepLimit ??= { position, token: outcome.token };
      continue;
    }
    if (rec.first === null) {
      rec.first = { position, choices: [...outcome.tracker.choices] };
      run.onFirst?.(subtree);
      if (r.stopOnFirst) {
        stoppedBy = 'finding';
        break;
      }
    }
  }
  close(search.exhausted);
  return {
    index,
    count,
    exhausted: search.exhausted,
    subtrees: search.subtree + 1,
    stoppedBy,
    records,
  };
}

/**
 * One footprint log per target, for every sub-shard a thread runs of it: a scenario target
 * resolves its kernel configuration once, footprint log included, and checks that each
 * later instance records into the same log (`ResolvedScenarioConfig` in @mmsim/scenarios).
 * The runs of one thread never overlap, so they can share it.
 */
const LOGS = new WeakMap<ExplorationTarget, FootprintLog>();

function footprintLogOf(target: ExplorationTarget): FootprintLog {
  let log = LOGS.get(target);
  if (log === undefined) {
    log = new FootprintLog();
    LOGS.set(target, log);
  }
  return log;
}

interface MutableRecord {
  subtree: number;
  runs: number;
  classAt: number[];
  classHash: number[];
  findingAt: number[];
  findingKind: FindingKind[];
  findingName: string[];
  first: { position: number; choices: number[] } | null;
  firstStepLimit: { position: number; token: string } | null;
}

function emptyRecord(subtree: number): MutableRecord {
  return {
    subtree,
    runs: 0,
    classAt: [],
    classHash: [],
    findingAt: [],
    findingKind: [],
    findingName: [],
    first: null,
    firstStepLimit: null,
  };
}

/** A 32-bit mix (the finaliser of MurmurHash3). */
function mix(x: number): number {
  let h = x | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * A 53-bit hash of the interleaving class of the run in `log`: of its Foata normal form
 * (each step at level 1 + the highest level of the earlier steps it depends on, the levels
 * `FootprintLog.classKey` lists), as sums of a hash per (level, task) pair, which do not
 * depend on the order of the steps. Runs of one class have the same hash; two classes share
 * one with a probability of about 2^-53 per pair.
 */
export function runClassHash(log: FootprintLog): number {
  const n = log.length;
  const lastWrite = new Map<number, number>();
  const readMax = new Map<number, number>();
  let globalLevel = 0;
  let maxLevel = 0;
  let h1 = 0;
  let h2 = 0;
  for (let k = 0; k < n; k++) {
    const from = log.starts[k] as number;
    const to = log.starts[k + 1] ?? log.objects.length;
    const global = log.global[k] === 1;
    let l = global ? maxLevel : globalLevel;
    for (let a = from; a < to; a++) {
      const o = log.objects[a] as number;
      const w = lastWrite.get(o);
      if (w !== undefined && w > l) l = w;
      if (log.writes[a] === 1) {
        const rd = readMax.get(o);
        if (rd !== undefined && rd > l) l = rd;
      }
    }
    const here = l + 1;
    for (let a = from; a < to; a++) {
      const o = log.objects[a] as number;
      if (log.writes[a] === 1) {
        lastWrite.set(o, here);
        readMax.delete(o);
      } else {
        const rd = readMax.get(o);
        if (rd === undefined || here > rd) readMax.set(o, here);
      }
    }
    if (global) globalLevel = here;
    if (here > maxLevel) maxLevel = here;
    const task = log.tasks[k] as number;
    h1 = (h1 + mix(Math.imul(here, 0x9e3779b1) ^ mix(task + 0x632be5ab))) | 0;
    h2 = (h2 + mix(Math.imul(here ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(task + 1, 0x165667b1))) | 0;
  }
  const a = mix(h1 ^ mix(n));
  const b = mix(h2 + Math.imul(n, 0x7feb352d));
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}

/**
 * The result of a DPOR exploration from the results of its sub-shards 0 … count-1
 * (`runDporShard`, any count): what `explore` gives on one thread for the same options,
 * apart from the wall-clock figures (`elapsedMs`, the time given) and where a time budget
 * stops the search (then the runs up to the first subtree a shard did not finish). The
 * finding is run again here, to be shrunk and recorded.
 */
export function mergeDporShards(
  target: ExplorationTarget,
  options: ExploreOptions,
  shards: readonly DporShardResult[],
  elapsedMs: number,
): ExploreResult {
  const t = checkTarget(target);
  const r = resolve(t, options);
  dporBound(r);
  if (shards.length === 0) throw invalid('shards', 'the results of every sub-shard', shards);
  const count = (shards[0] as DporShardResult).count;
  const seen = new Set<number>();
  for (const s of shards) {
    if (s.count !== count || seen.has(s.index) || s.index < 0 || s.index >= count) {
      throw invalid('shards', `sub-shards 0 … ${count - 1} once each`, `${s.index} of ${s.count}`);
    }
    seen.add(s.index);
  }
  if (seen.size !== count) {
    throw invalid('shards', `sub-shards 0 … ${count - 1} once each`, `${seen.size} of them`);
  }
  const records = new Map<number, DporSubtreeRecord>();
  for (const s of shards) for (const rec of s.records) records.set(rec.subtree, rec);
  const allExhausted = shards.every((s) => s.exhausted);
  const subtrees = Math.max(...shards.map((s) => s.subtrees));
  const limit = positions(r);
  // Walk the subtrees of the exploration's shard in the one-thread search's order.
  let executions = 0;
  let findings = 0;
  const byKind: Partial<Record<FindingKind, number>> = {};
  const byName: Record<string, number> = {};
  const classes = new Set<number>();
  let first: { index: number; subtree: number; choices: readonly number[] } | null = null;
  let firstKind: FindingKind | null = null;
  let stepLimitAt: { index: number; token: string } | null = null;
  let cutShort = false; // stopped at a subtree no shard finished (a time budget)
  const indexOf = (n: number) => r.shard.index + n * r.shard.count;
  for (let s = r.shard.index; ; s += r.shard.count) {
    if (executions >= limit) break;
    const rec = records.get(s);
    if (rec === undefined) {
      cutShort = !(allExhausted && s >= subtrees);
      break;
    }
    let end = Math.min(rec.runs, limit - executions);
    const stopAt = r.stopOnFirst && rec.first !== null ? rec.first.position + 1 : rec.runs;
    if (stopAt < end) end = stopAt;
    for (let i = 0; i < rec.classAt.length && (rec.classAt[i] as number) < end; i++) {
      classes.add(rec.classHash[i] as number);
    }
    for (let i = 0; i < rec.findingAt.length && (rec.findingAt[i] as number) < end; i++) {
      const kind = rec.findingKind[i] as FindingKind;
      const name = rec.findingName[i] as string;
      findings++;
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      byName[name] = (byName[name] ?? 0) + 1;
    }
    if (stepLimitAt === null && rec.firstStepLimit !== null && rec.firstStepLimit.position < end) {
      stepLimitAt = {
        index: indexOf(executions + rec.firstStepLimit.position),
        token: rec.firstStepLimit.token,
      };
    }
    if (first === null && rec.first !== null && rec.first.position < end) {
      first = {
        index: indexOf(executions + rec.first.position),
        subtree: s,
        choices: rec.first.choices,
      };
      const at = rec.findingAt.indexOf(rec.first.position);
      firstKind = rec.findingKind[at] as FindingKind;
    }
    executions += end;
    if (first !== null && r.stopOnFirst) break;
    if (end < rec.runs || executions >= limit) break;
    if (!rec.complete) {
      cutShort = true;
      break;
    }
  }
  const total = allExhausted
    ? [...records.values()]
        .filter((rec) => rec.subtree % r.shard.count === r.shard.index)
        .reduce((sum, rec) => sum + rec.runs, 0)
    : Number.NaN;
  const exhausted = allExhausted && executions === total;
  let stoppedBy: StopReason;
  if (first !== null && r.stopOnFirst) stoppedBy = 'finding';
  else if (exhausted) stoppedBy = 'exhausted';
  else if (cutShort) stoppedBy = 'time';
  else stoppedBy = 'schedules';
  let outcome: RunOutcome | null = null;
  if (first !== null) {
    outcome = runSchedule(
      r.setup,
      { kind: 'guided', choices: first.choices, mode: 'replay' },
      r.seed,
      false,
    );
    if (outcome.verdict?.kind !== firstKind) {
      throw new MmsimError(
        'REPLAY_DIVERGED',
        `target "${t.name}" is not deterministic: DPOR run ${first.index} gave ${firstKind} in its shard and ${outcome.verdict?.kind ?? 'no finding'} here`,
      );
    }
  }
  const stepLimit: StepLimitRun | null =
    stepLimitAt === null ? null : { index: stepLimitAt.index, replay: stepLimitAt.token };
  return finishExploration(t, r, outcome, first?.index ?? null, {
    schedules: executions,
    findings,
    findingsByKind: byKind,
    findingsByName: byName,
    stoppedBy,
    exhausted,
    classes: classes.size,
    classHashes: classes,
    findingSubtree: first?.subtree ?? null,
    pct: null,
    elapsedMs,
    stepLimit,
  });
}

/**
 * A guess at the relative size (executions) of each subtree of a DPOR search, from one probe
 * run of each (the runs a shard makes of the subtrees it does not own; about one execution
 * per subtree, on this thread): d^(K - p), with d the decisions of the probe from the split on
 * (where more than one task could run), K the preemption bound and p the preemptions the
 * split's decisions spent. A preemption-bounded search below a point with d decisions and
 * K - p preemptions left has on the order of d^(K-p) schedules; unbounded, d. Only the order
 * of the guesses is used, to hand out the biggest sub-shards first: on loop-writeback-deadlock
 * v6.3 at bound 2 one of its 15 subtrees holds 53 % of the executions, and handed out 12th
 * it would finish long after the others.
 */
export function dporSubtreeSizes(
  target: ExplorationTarget,
  options: BatchExploreOptions,
): number[] {
  const t = checkTarget(target);
  const r = resolve(t, options);
  const bound = dporBound(r);
  // A shard that owns no subtree (in practice): it probes every one.
  const search = new DporSearch({
    preemptionBound: bound,
    splitDecisions: DPOR_SPLIT_DECISIONS,
    shard: { index: NO_SUBTREE, count: NO_SUBTREE + 1 },
  });
  const footprints = footprintLogOf(t);
  const sizes: number[] = [];
  while (!search.exhausted) {
    const strategy = search.nextStrategy(footprints) as DporStrategy;
    const outcome = runSchedule(
      r.setup,
      { kind: 'strategy', strategy },
      r.seed,
      false,
      false,
      footprints,
    );
    search.finish(strategy, outcome.abandoned);
    let decisions = 0;
    let spent = -1;
    for (const rec of strategy.records) {
      if (rec.decision < DPOR_SPLIT_DECISIONS) continue;
      if (spent < 0) spent = rec.spentBefore;
      if (rec.eligible.length > 1) decisions++;
    }
    const left = Math.max(0, bound - Math.max(0, spent));
    sizes[search.subtree] =
      left === Number.POSITIVE_INFINITY ? decisions : Math.max(1, decisions) ** left;
  }
  return sizes;
}

/** The subtree number no probe walk reaches (the shard of `dporSubtreeSizes` owns it). */
const NO_SUBTREE = 2 ** 30;

/**
 * Sub-shards 0 … count-1 of `r`'s search (of its shard), biggest first by the guessed sizes
 * of the subtrees each owns (`dporSubtreeSizes`); ties in index order.
 */
function shardOrder(r: Resolved, count: number, sizes: readonly number[]): number[] {
  const total = new Array<number>(count).fill(0);
  sizes.forEach((size, s) => {
    if (s % r.shard.count !== r.shard.index) return;
    const j = Math.floor(s / r.shard.count) % count;
    total[j] = (total[j] as number) + size;
  });
  return Array.from({ length: count }, (_, j) => j).sort(
    (a, b) => (total[b] as number) - (total[a] as number) || a - b,
  );
}

/** Where `exploreDporShards` runs the sub-shards of a DPOR search (worker threads, say). */
export interface DporShardRunner {
  /** Sub-shards to split the search into (any number: the result is the same). */
  readonly shards: number;
  /** Runs sub-shard `index` of `shards` (for instance `runDporShard` on a worker thread). */
  run(index: number, signal: AbortSignal): Promise<DporShardResult>;
  /**
   * Asks the sub-shards running and still to run to stop before their next run
   * (`DporShardRun.interrupted`): each then answers with what it covered. Without it, a
   * search stopped by `onProgress` aborts the runs' signal instead.
   */
  stop?(): void;
}

/**
 * How often (ms) `exploreDporShards` calls `onProgress` while sub-shards run, besides when
 * each finishes: a sub-shard can run for many seconds, and `onProgress` throwing (Ctrl-C) is
 * how the caller stops the search.
 */
export const DPOR_PROGRESS_POLL_MS = 100;

/**
 * `explore` for a DPOR search, its sub-shards run by `runner` (on worker threads): the
 * result is the one `explore` gives on one thread (`mergeDporShards`). `onProgress` is told
 * the executions of the shards as each finishes, and every `DPOR_PROGRESS_POLL_MS` between.
 * When it throws, the search stops: with `runner.stop`, the sub-shards stop within a run and
 * `onProgress` is told once more the executions they covered (partial ones included) before
 * the error is thrown; without it, the runs' signal is aborted.
 */
export async function exploreDporShards(
  target: ExplorationTarget,
  options: ExploreOptions,
  runner: DporShardRunner,
): Promise<ExploreResult> {
  const t = checkTarget(target);
  const r = resolve(t, options);
  dporBound(r);
  const count = checkInteger('shards', runner.shards, 1, 1e6);
  const start = performance.now();
  const abort = new AbortController();
  let done = 0;
  let doneFindings = 0;
  const tell = (): void =>
    r.onProgress?.({
      schedule: done,
      schedules: r.schedules,
      findings: doneFindings,
      kind: null,
      elapsedMs: performance.now() - start,
    });
  // Set once onProgress threw: the search stops (`runner.stop`), and this is thrown.
  let stopped: { error: unknown } | null = null;
  const stop = (error: unknown): void => {
    if (stopped !== null) return;
    stopped = { error };
    if (runner.stop === undefined) abort.abort(error);
    else runner.stop();
  };
  // The biggest sub-shards first (a thread that draws small ones then takes more of them).
  const order = shardOrder(r, count, dporSubtreeSizes(t, options));
  const poll =
    r.onProgress === undefined
      ? undefined
      : setInterval(() => {
          if (stopped !== null) return;
          try {
            tell();
          } catch (error) {
            stop(error);
          }
        }, DPOR_PROGRESS_POLL_MS);
  let results: DporShardResult[];
  try {
    results = await Promise.all(
      order.map((i) =>
        runner.run(i, abort.signal).then(
          (result) => {
            for (const rec of result.records) {
              done += rec.runs;
              doneFindings += rec.findingAt.length;
            }
            if (stopped !== null) return result;
            try {
              tell();
            } catch (error) {
              stop(error);
              if (runner.stop === undefined) throw error;
            }
            return result;
          },
          (error: unknown) => {
            abort.abort(error);
            throw error;
          },
        ),
      ),
    );
  } finally {
    clearInterval(poll);
  }
  const halt = stopped as { error: unknown } | null;
  if (halt !== null) {
    // What the sub-shards covered before they stopped, then the error that stopped them.
    tell();
    throw halt.error;
  }
  return mergeDporShards(target, options, results, performance.now() - start);
}
