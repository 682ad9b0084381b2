import {
  type ExploreResult,
  exhaustedLine,
  exploreDporShards,
  exploreInBatches,
  formatFinding,
  pctGuaranteeLine,
} from '@mmsim/explore';
import { reportOfFinding } from '@mmsim/report';
import { MmsimError } from '@mmsim/runtime';
import { exploreScenario } from '@mmsim/scenarios';
import { costsOption, withCostProfile } from '../costs-option.js';
import { EXIT_FINDING, EXIT_INTERRUPTED, EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { MAX_STEPS } from '../limits.js';
import { createProgress } from '../progress.js';
import { replayCommandLine } from '../replay-line.js';
import { machineCpus, writeReport } from '../report-option.js';
import { chooseVariant, fileMachineConfig, resolveScenario } from '../resolve-scenario.js';
import { exploreStrategy, intOption, strategyText } from '../strategy-option.js';
import { timeBudgetOption } from '../time-budget.js';
import { UsageError } from '../usage-error.js';
import { variantNameOf } from '../variant-file.js';
import {
  dporShardCount,
  effectiveWorkers,
  explorePool,
  probeFirst,
} from '../workers/explore-pool.js';
import { buildExploration, type ExploreSpec } from '../workers/explore-spec.js';
import { shardOption, shardText, workersOption } from '../workers/options.js';
import { encodeClassSet } from './merge-classes.js';
import { checkVariant } from './run.js';

export interface ExploreCommandOptions {
  readonly variant?: string;
  readonly seed?: string;
  readonly strategy?: string;
  readonly schedules?: string;
  readonly json?: boolean;
  /** Invariant / check names to turn off, e.g. `page-lock-inversion`. */
  readonly disable?: readonly string[];
  /** Write an HTML report of the finding (or of the search) to this file. */
  readonly report?: string;
  /** Write the replay token to this file; the printed command reads it from there. */
  readonly tokenFile?: string;
  /** A schedule longer than this is a step-limit finding. */
  readonly maxSteps?: string;
  /** Stop exploring after this many wall-clock seconds. */
  readonly timeBudget?: string;
  /** Worker threads (default: the machine's cores); random, PCT and DPOR (not DFS). */
  readonly workers?: string;
  /** `K/N`: run shard K of N of the schedule indices (i % N === K - 1). */
  readonly shard?: string;
  /** `--costs NAME`: a cost profile (cost-profiles.ts in @mmsim/runtime) under the scenario's costs. */
  readonly costs?: string;
}

/**
 * The schedule limit of a dfs or dpor search given `--time-budget` and no `--schedules`: the
 * explorer's largest, so that the budget (or exhaustion) ends the search.
 */
const SYSTEMATIC_NO_LIMIT = 1e9;

/** Thrown out of the progress callback when the user pressed Ctrl-C. */
class Interrupted extends Error {}

/**
 * `mmsim explore`: search schedules for a deadlock, invariant violation or inversion. With
 * `defer` (the asynchronous entry point, `mainAsync`), a random or PCT search of enough
 * schedules runs on `--workers` worker threads and its exit code comes through `defer`;
 * without it the search runs on this thread (the same result).
 */
export function exploreCommand(
  io: CliIo,
  nameOrFile: string,
  options: ExploreCommandOptions,
  defer?: (code: Promise<number>) => void,
): number {
  const resolved = resolveScenario(nameOrFile);
  const { scenario, overrides } = resolved;
  const chosenVariant = chooseVariant(resolved, checkVariant(options.variant));
  const variant = variantNameOf(chosenVariant);
  const strategy = exploreStrategy(options.strategy) ?? 'random';
  const systematic =
    strategy === 'dfs' ||
    strategy === 'dpor' ||
    (typeof strategy === 'object' && (strategy.kind === 'dfs' || strategy.kind === 'dpor'));
  const timeBudgetMs = timeBudgetOption(options.timeBudget);
  // A systematic search runs until exhausted: its default limit is the explorer's (100 000),
  // and with a time budget none (until exhausted or out of time; `--schedules` still caps it).
  const schedules =
    intOption('schedules', options.schedules, 1) ??
    (systematic ? (timeBudgetMs === undefined ? 100_000 : SYSTEMATIC_NO_LIMIT) : 1000);
  const seed = intOption('seed', options.seed) ?? 1;
  const maxSteps = intOption('max-steps', options.maxSteps, 1);
  if (maxSteps !== undefined && maxSteps > MAX_STEPS) {
    throw new UsageError(`--max-steps must be at most ${MAX_STEPS}; got "${options.maxSteps}"`);
  }
  const shard = shardOption(options.shard);
  const workers = workersOption(options.workers);
  // DFS and DPOR search one tree in order: one thread; DPOR splits its tree into shards.
  const isDfs = systematic;
  const isDpor = strategy === 'dpor' || (typeof strategy === 'object' && strategy.kind === 'dpor');
  if (shard !== undefined && shard.count > 1 && isDfs && !isDpor) {
    throw new UsageError(
      '--shard splits random, pct and dpor searches; dfs searches one tree in order',
    );
  }
  let done = 0;
  let findingsSoFar = 0;
  const config = withCostProfile(fileMachineConfig(overrides), costsOption(options.costs));
  const progress = createProgress(io, `explore ${scenario.name}@${variant}`, schedules);
  const onProgress = (p: { schedule: number; findings: number }) => {
    done = p.schedule;
    findingsSoFar = p.findings;
    progress.update(p.schedule);
    if (io.interrupted?.() === true) throw new Interrupted();
  };
  // DPOR runs its sub-shards on worker threads too (merged into the one-thread result).
  const threads = defer === undefined ? 1 : effectiveWorkers(workers, schedules, isDfs && !isDpor);
  if (threads > 1 && defer !== undefined) {
    const spec: ExploreSpec = {
      scenario: nameOrFile,
      variant: options.variant,
      strategy,
      schedules,
      seed,
      maxSteps,
      disable: options.disable,
      shard,
      ...(options.costs === undefined ? {} : { costs: options.costs }),
    };
    const settle = (search: Promise<ExploreResult>, destroy: () => Promise<void>) =>
      search
        .then(
          (found) => {
            progress.stop();
            return report(found);
          },
          (error: unknown) => {
            progress.stop();
            return failed(error);
          },
        )
        .finally(destroy);
    if (isDpor) {
      // `threads` worker threads run the search's sub-shards (subtrees); this thread hands
      // them out and merges their results into the one-thread search's.
      const pool = explorePool(threads);
      const built = buildExploration(spec);
      const deadline = timeBudgetMs === undefined ? undefined : Date.now() + timeBudgetMs;
      defer(
        settle(
          exploreDporShards(
            built.target,
            {
              ...built.options,
              onProgress,
              ...(timeBudgetMs === undefined ? {} : { timeBudgetMs }),
            },
            pool.dporRunner(spec, dporShardCount(threads), deadline),
          ),
          () => pool.destroy(),
        ),
      );
      return EXIT_OK;
    }
    // This thread runs batches too: `threads - 1` worker threads, started before this thread
    // builds the exploration, or (a shorter search) only once its first batch shows they pay.
    const pool = explorePool(threads, { local: true, probe: probeFirst(spec) });
    const built = buildExploration(spec);
    defer(
      settle(
        exploreInBatches(
          built.target,
          { ...built.options, onProgress, ...(timeBudgetMs === undefined ? {} : { timeBudgetMs }) },
          pool.runner(spec, built),
        ),
        () => pool.destroy(),
      ),
    );
    return EXIT_OK;
  }
  let result: ExploreResult;
  try {
    result = exploreScenario(scenario, {
      ...config,
      variant: chosenVariant,
      strategy,
      schedules,
      seed,
      ...(maxSteps === undefined ? {} : { maxSteps }),
      ...(timeBudgetMs === undefined ? {} : { timeBudgetMs }),
      onProgress,
      ...(shard === undefined ? {} : { shard }),
      ...(resolved.source === undefined ? {} : { source: { sha256: resolved.source.sha256 } }),
      ...(options.disable === undefined ? {} : { disable: [...options.disable] }),
    });
  } catch (error) {
    return failed(error);
  } finally {
    progress.stop();
  }
  return report(result);

  function failed(error: unknown): number {
    if (error instanceof Interrupted) {
      progress.stop();
      const summary = {
        scenario: scenario.name,
        variant,
        strategy: strategyText(strategy),
        seed,
        schedules: done,
        found: findingsSoFar > 0,
        stoppedBy: 'interrupted',
        findings: findingsSoFar,
      };
      io.stdout(
        options.json === true
          ? `${JSON.stringify(summary)}\n`
          : `mmsim explore ${scenario.name} (variant ${variant}, ${strategyText(strategy)}, seed ${seed}): ` +
              `interrupted after ${done} schedule(s); ${findingsSoFar === 0 ? 'nothing found so far' : `${findingsSoFar} schedule(s) with a finding so far (not shrunk)`}\n`,
      );
      return EXIT_INTERRUPTED;
    }
    if (error instanceof MmsimError) throw new UsageError(`${scenario.name}: ${error.message}`);
    throw error;
  }

  function report(result: ExploreResult): number {
    const strategyName = strategyText(strategy);
    // The command that replays the finding: with --scenario FILE for a file scenario, and the
    // token in a file when asked or when it is too long for a terminal.
    const replayLine =
      result.replay === null
        ? null
        : replayCommandLine(io, result.replay, {
            scenarioFile: resolved.source?.path,
            variant: options.variant,
            costs: options.costs,
            tokenFile: options.tokenFile,
            shorten: options.json !== true,
          });
    if (options.report !== undefined) {
      const finding = result.found ? result.finding : null;
      writeReport(
        io,
        options.report,
        reportOfFinding(
          {
            command: 'explore',
            scenario: scenario.name,
            title: scenario.title,
            variant,
            seed,
            status: result.found
              ? `found after ${result.schedules} schedule(s)`
              : `nothing found in ${result.schedules} schedules`,
            replayCommand: replayLine,
            finding: finding?.message ?? null,
            ...(finding === null
              ? {}
              : {
                  findingText: formatFinding(
                    finding,
                    replayLine === null ? {} : { replay: replayLine },
                  ),
                }),
          },
          finding,
          finding?.steps ?? [],
          machineCpus(scenario, { ...config, variant: chosenVariant }),
        ),
      );
    }
    if (options.json === true) {
      io.stdout(
        `${JSON.stringify({
          scenario: scenario.name,
          variant,
          strategy: strategyName,
          seed,
          schedules: result.schedules,
          found: result.found,
          kind: result.kind,
          invariant: result.invariant,
          message: result.message,
          replay: result.replay,
          replayCommand: replayLine,
          stoppedBy: result.stoppedBy,
          schedulesPerSecond: result.schedulesPerSecond ?? null,
          // For mmsim merge and campaign scripts: the search as a whole.
          scheduleLimit: schedules,
          shard: shard === undefined ? null : shardText(shard),
          findings: result.findings,
          findingsByKind: result.findingsByKind,
          // Schedules that ran into the step limit (as campaign cells report stepLimitRuns).
          stepLimitRuns: result.findingsByKind['step-limit'] ?? 0,
          findingIndex: result.findingIndex,
          // DPOR: the subtree of the finding's run (shards merge to the lowest, then index).
          findingSubtree: result.findingSubtree,
          exhausted: result.exhausted,
          bound: result.bound,
          executions: result.executions,
          classes: result.classes,
          // A DPOR shard: the classes themselves, for mmsim merge's exact count (merge-classes.ts).
          ...(shard !== undefined && shard.count > 1 && result.classHashes !== undefined
            ? { classSet: encodeClassSet(result.classHashes) }
            : {}),
          // PCT's guarantee when nothing was found (what it is for; shards merge it).
          ...(result.pct === null || result.found ? {} : { pct: result.pct }),
          disable: options.disable ?? [],
          elapsedMs: result.elapsedMs,
        })}\n`,
      );
    } else if (result.found && result.finding !== null) {
      io.stdout(
        `mmsim explore ${scenario.name} (variant ${variant}, ${strategyName}, seed ${seed})\n`,
      );
      io.stdout(
        `found after ${result.schedules} schedule(s):\n${formatFinding(result.finding, replayLine === null ? {} : { replay: replayLine })}\n`,
      );
    } else if (result.exhausted && result.bound !== null && result.classes !== null) {
      io.stdout(
        `mmsim explore ${scenario.name} (variant ${variant}, ${strategyName}, seed ${seed}): ` +
          `nothing found\n${exhaustedLine(result.bound, result.executions, result.classes)}\n`,
      );
    } else {
      io.stdout(
        `mmsim explore ${scenario.name} (variant ${variant}, ${strategyName}, seed ${seed}): ` +
          `nothing found in ${result.schedules} schedules${result.exhausted ? ' (the bounded space is exhausted)' : ''}\n`,
      );
      if (result.pct !== null) io.stdout(`${pctGuaranteeLine(result.pct)}\n`);
    }
    return result.found ? EXIT_FINDING : EXIT_OK;
  }
}
