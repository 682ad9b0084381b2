import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  type ExploreResult,
  type ExploreShard,
  type ExploreStrategy,
  explore,
  exploreInBatches,
  type PctGuarantee,
} from '@mmsim/explore';
import { DEFAULT_VARIANT } from '@mmsim/migrate';
import { type CampaignPageData, campaignGuarantees, renderCampaignReport } from '@mmsim/report';
import { MmsimError } from '@mmsim/runtime';
import { historyBugVariants } from '@mmsim/scenarios';
import { builtInNames, builtInScenario } from '../catalog.js';
import { EXIT_FINDING, EXIT_OK } from '../exit-codes.js';
import { fileErrorMessage } from '../file-error.js';
import type { CliIo } from '../io.js';
import { replayCommandLine } from '../replay-line.js';
import { exploreStrategy, intOption, strategyText } from '../strategy-option.js';
import { timeBudgetOption } from '../time-budget.js';
import { UsageError } from '../usage-error.js';
import { type ExplorePool, effectiveWorkers, explorePool } from '../workers/explore-pool.js';
import { buildExploration, type ExploreSpec } from '../workers/explore-spec.js';
import { shardOption, shardText, workersOption } from '../workers/options.js';
import { encodeClassSet } from './merge-classes.js';
import { fixingVariant } from './scenarios.js';

/**
 * The strategies a campaign tries, in order: each is kept only if `explore` accepts it
 * (`dpor:2` once the explorer has DPOR), so the list can name strategies ahead of them.
 */
export const CAMPAIGN_STRATEGIES: readonly string[] = ['random', 'pct', 'dpor:2'];

/**
 * A campaign cell's step limit is this many times the steps of a calibration run of its
 * scenario (random strategy, the campaign's seed, no faults), within [MIN_STEP_LIMIT,
 * MAX_STEP_LIMIT]. A schedule that does not end within it is a step-limit run, reported
 * apart from the findings: PCT keeps running the task of highest priority, so a task that
 * loops until another one finishes (a pmbench thread until the migrator is done) can hold
 * back that other task for as long as it likes, a legal schedule with no bound.
 */
export const STEP_LIMIT_FACTOR = 4;
export const MIN_STEP_LIMIT = 10_000;
export const MAX_STEP_LIMIT = 100_000;

/** The probability with which every registered fault site fails, by default. */
export const DEFAULT_FAULT_PROBABILITY = 0.02;

/**
 * Fault kinds a campaign asks for; those no model registers a site for are listed as not
 * modelled in the report (the sites are `rt.faults.register`ed by the packages).
 */
export const CAMPAIGN_FAULT_KINDS: readonly { readonly kind: string; readonly site: RegExp }[] = [
  { kind: 'allocation failures', site: /alloc/ },
  { kind: 'trylock failures', site: /trylock/ },
  { kind: 'extra references', site: /extra_ref|reference/ },
  { kind: 'signals', site: /signal/ },
  { kind: 'copy failures', site: /copy/ },
];

export interface CampaignCommandOptions {
  readonly schedules?: string;
  readonly timeBudget?: string;
  readonly seed?: string;
  readonly workers?: string;
  readonly shard?: string;
  readonly out?: string;
  readonly json?: boolean;
  readonly scenario?: readonly string[];
  readonly strategy?: readonly string[];
  readonly faultProbability?: string;
  readonly maxSteps?: string;
}

/** One scenario × variant × strategy of a campaign. */
export interface CampaignCell {
  readonly scenario: string;
  readonly variant: string;
  readonly strategy: string;
  /** The fault sites this cell injects at (each with the campaign's probability). */
  readonly faults: readonly string[];
  readonly schedules: number;
  /** Findings, step-limit runs not counted (see `stepLimitRuns`). */
  readonly findings: number;
  /** The step limit of each schedule (calibrated, or `--max-steps`). */
  readonly maxSteps: number;
  /** Schedules that did not end within `maxSteps`: reported, not counted as findings. */
  readonly stepLimitRuns: number;
  /** The replay token of the first step-limit run, if any. */
  readonly stepLimitReplay: string | null;
  /** The schedule index of that run (shards merge to the lowest), or null. */
  readonly stepLimitIndex: number | null;
  readonly deadlocks: number;
  readonly invariantViolations: number;
  readonly lostWrites: number;
  /** frames-conserved: a frame lost or a reference leaked (refcounts at rest). */
  readonly leakedFramesOrReferences: number;
  /** no-lock-held-at-end, held-locks-consistent. */
  readonly leakedLocks: number;
  readonly findingsByName: Readonly<Record<string, number>>;
  readonly schedulesPerSecond: number | null;
  readonly elapsedMs: number;
  readonly stoppedBy: string;
  readonly exhausted: boolean;
  /**
   * DFS / DPOR cells: the interleaving classes the cell's executions covered (null for the
   * other strategies). A merged cell counts the union of its shards' class sets.
   */
  readonly classes?: number | null;
  /** A merged cell whose count is only an upper bound (a shard without `classSet`). */
  readonly classesAtMost?: boolean;
  /**
   * A DPOR cell of a shard (`--shard K/N`, N > 1): its classes, encoded as explore's
   * `classSet` (merge-classes.ts), so that `mmsim merge` counts the cell's classes exactly.
   */
  readonly classSet?: string;
  /** The lowest-index finding: its index, kind, message and replay command. */
  readonly findingIndex: number | null;
  /** DPOR cells: the search subtree of that finding's run (shards merge to the lowest). */
  readonly findingSubtree?: number | null;
  readonly kind: string | null;
  readonly message: string | null;
  readonly replay: string | null;
  readonly replayCommand: string | null;
  /** PCT cells: the probabilistic guarantee of the schedules run; null for the others. */
  readonly pct?: PctGuarantee | null;
}

/** One campaign's report: the page's data (`@mmsim/report`) with the CLI's cells. */
export type CampaignReport = CampaignPageData<CampaignCell>;

/** The fixed variants a built-in scenario is explored in: the one that fixed its bug, or its own. */
export function fixedVariants(name: string): { variants: string[]; reason?: string } {
  const scenario = builtInScenario(name);
  const history = scenario.history;
  const bugIn = history === undefined ? [] : historyBugVariants(history);
  if (bugIn.length === 0) {
    return { variants: [String(scenario.config.variant ?? DEFAULT_VARIANT)] };
  }
  const fixedBy = fixingVariant(history);
  if (fixedBy === null) return { variants: [], reason: 'no variant fixes its bug yet' };
  return { variants: [fixedBy] };
}

/** The strategies of the list that `explore` accepts, and those it does not. */
export function supportedStrategies(list: readonly string[]): {
  supported: { text: string; strategy: ExploreStrategy }[];
  notSupported: string[];
} {
  const supported: { text: string; strategy: ExploreStrategy }[] = [];
  const notSupported: string[] = [];
  for (const text of list) {
    let strategy: ExploreStrategy | undefined;
    try {
      strategy = exploreStrategy(text);
    } catch {
      strategy = undefined;
    }
    if (strategy === undefined) notSupported.push(text);
    else supported.push({ text, strategy });
  }
  return { supported, notSupported };
}

function isOrdered(strategy: ExploreStrategy): boolean {
  const kind = typeof strategy === 'string' ? strategy : strategy.kind;
  return kind !== 'random' && kind !== 'pct';
}

/** The fault sites a scenario's target registers (probed on one instance). */
function faultSites(spec: ExploreSpec): string[] {
  const { target } = buildExploration(spec);
  const instance = target.instantiate({
    runtime: { strategy: 'in-order', seed: spec.seed, onStep: () => {}, maxSteps: 1, meta: '' },
  });
  return instance.rt.faults.names();
}

/**
 * The steps of one run of a scenario's target under the random strategy with `spec.seed`,
 * no faults, within MAX_STEP_LIMIT (a run that hits it counts MAX_STEP_LIMIT).
 */
export function calibrationSteps(spec: ExploreSpec): number {
  const { target } = buildExploration(spec);
  const instance = target.instantiate({
    runtime: {
      strategy: 'random',
      seed: spec.seed,
      onStep: () => {},
      maxSteps: MAX_STEP_LIMIT,
      meta: '',
    },
  });
  return instance.rt.run().steps;
}

/** The step limit fitted to a calibration run of `steps` steps. */
export function fittedStepLimit(steps: number): number {
  return Math.min(MAX_STEP_LIMIT, Math.max(MIN_STEP_LIMIT, STEP_LIMIT_FACTOR * steps));
}

const sum = (cells: readonly CampaignCell[], key: keyof CampaignCell) =>
  cells.reduce((s, c) => s + (c[key] as number), 0);

/**
 * One cell of the report from its exploration (run with `stepLimitApart`): the counts by
 * kind and name, the lowest-index real finding with its replay, the step-limit runs apart.
 */
export function cellOf(
  io: CliIo,
  spec: ExploreSpec,
  variant: string,
  strategyText: string,
  faults: readonly string[],
  r: ExploreResult,
): CampaignCell {
  const n = r.findingsByName;
  const count = (...names: string[]) => names.reduce((s, x) => s + (n[x] ?? 0), 0);
  const stepLimitRuns = r.findingsByKind['step-limit'] ?? 0;
  const findings = r.findings - stepLimitRuns;
  // Explored with `stepLimitApart`: the reported finding is the lowest-index real one (a
  // deadlock, invariant, crash), and the first step-limit run comes apart in `r.stepLimit`.
  const finding = r.found && r.kind !== 'step-limit';
  return {
    scenario: spec.scenario,
    variant,
    strategy: strategyText,
    faults,
    schedules: r.schedules,
    findings,
    maxSteps: spec.maxSteps ?? MAX_STEP_LIMIT,
    stepLimitRuns,
    stepLimitReplay: r.stepLimit?.replay ?? null,
    stepLimitIndex: r.stepLimit?.index ?? null,
    deadlocks: r.findingsByKind.deadlock ?? 0,
    invariantViolations: r.findingsByKind.invariant ?? 0,
    lostWrites: count('no-lost-write'),
    leakedFramesOrReferences: count('frames-conserved'),
    leakedLocks: count('no-lock-held-at-end', 'held-locks-consistent'),
    findingsByName: n,
    schedulesPerSecond: r.schedulesPerSecond ?? null,
    elapsedMs: r.elapsedMs,
    stoppedBy: r.stoppedBy,
    exhausted: r.exhausted,
    ...(r.classes === null ? {} : { classes: r.classes }),
    ...(spec.shard !== undefined && spec.shard.count > 1 && r.classHashes !== undefined
      ? { classSet: encodeClassSet(r.classHashes) }
      : {}),
    findingIndex: finding ? r.findingIndex : null,
    ...(r.findingSubtree === null && !strategyText.startsWith('dpor')
      ? {}
      : { findingSubtree: finding ? r.findingSubtree : null }),
    kind: finding ? r.kind : null,
    message: finding ? r.message : null,
    replay: finding ? r.replay : null,
    replayCommand:
      finding && r.replay !== null ? replayCommandLine(io, r.replay, { shorten: false }) : null,
    pct: r.pct,
  };
}

/** The markdown form of a campaign report. */
export function campaignMarkdown(report: CampaignReport): string {
  const c = report.campaign;
  const t = report.totals;
  const lines = [
    '# mmsim campaign',
    '',
    `Seed ${c.seed}; ${c.schedulesPerCell} schedule(s) per cell${c.timeBudgetSecondsPerCell === null ? '' : ` or ${c.timeBudgetSecondsPerCell} s`}${c.shard === null ? '' : `; shard ${c.shard}`}; strategies ${c.strategies.join(', ')}` +
      `${c.strategiesNotSupported.length === 0 ? '' : ` (not supported by this explore: ${c.strategiesNotSupported.join(', ')})`}; ` +
      `faults at every registered site with probability ${c.faultProbability}` +
      `${c.faultKindsNotModelled.length === 0 ? '' : ` (no fault site yet for: ${c.faultKindsNotModelled.join(', ')})`}; ${c.workers} worker(s).`,
    '',
    `**${t.schedules} schedules in ${t.cells} cells: ${t.findings} finding(s), ${t.stepLimitRuns} step-limit run(s) (not findings), ${t.deadlocks} deadlock(s), ${t.invariantViolations} invariant violation(s), ${t.lostWrites} lost write(s), ${t.leakedFramesOrReferences} leaked frame(s)/reference(s), ${t.leakedLocks} leaked lock(s); ${(t.elapsedMs / 1000).toFixed(1)} s, ${t.schedulesPerSecond === null ? '-' : t.schedulesPerSecond.toFixed(0)} schedules/s.**`,
    '',
    '| scenario | variant | strategy | faults | schedules | findings | deadlocks | invariant violations | lost writes | leaked frames/refs | leaked locks | schedules/s | max steps | step-limit runs |',
    '|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...report.cells.map(
      (x) =>
        `| ${x.scenario} | ${x.variant} | ${x.strategy} | ${x.faults.join(', ') || '-'} | ${x.schedules} | ${x.findings} | ${x.deadlocks} | ${x.invariantViolations} | ${x.lostWrites} | ${x.leakedFramesOrReferences} | ${x.leakedLocks} | ${x.schedulesPerSecond === null ? '-' : x.schedulesPerSecond.toFixed(0)} | ${x.maxSteps} | ${x.stepLimitRuns} |`,
    ),
  ];
  const guarantees = campaignGuarantees(report);
  if (guarantees.length > 0) {
    lines.push('', '## Guarantees', '', ...guarantees.map((g) => `- ${g}`));
  }
  const found = report.cells.filter((x) => x.findings > 0);
  if (found.length > 0) {
    lines.push('', '## Findings', '');
    for (const x of found) {
      lines.push(
        `- ${x.scenario} @ ${x.variant} (${x.strategy}), schedule ${x.findingIndex}: ${x.message}`,
        `  \`${x.replayCommand}\``,
      );
    }
  }
  const long = report.cells.filter((x) => x.stepLimitRuns > 0);
  if (long.length > 0) {
    lines.push(
      '',
      '## Step-limit runs',
      '',
      'Schedules that did not end within the step limit fitted to the scenario (a calibration run times ' +
        `${STEP_LIMIT_FACTOR}, within [${MIN_STEP_LIMIT}, ${MAX_STEP_LIMIT}]): legal but unbounded schedules ` +
        'such as PCT holding back a task that another one loops waiting for; not counted as findings. ' +
        'Replay one to see which.',
      '',
    );
    for (const x of long) {
      lines.push(
        `- ${x.scenario} @ ${x.variant} (${x.strategy}): ${x.stepLimitRuns} of ${x.schedules} schedule(s) past ${x.maxSteps} steps` +
          `${x.stepLimitReplay === null ? '' : `; \`mmsim replay ${x.stepLimitReplay}\``}`,
      );
    }
  }
  if (report.skipped.length > 0) {
    lines.push('', '## Skipped', '');
    for (const s of report.skipped) lines.push(`- ${s.scenario}: ${s.reason}`);
  }
  return `${lines.join('\n')}\n`;
}

function writeOut(dir: string, report: CampaignReport): void {
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'campaign.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(dir, 'campaign.md'), campaignMarkdown(report));
    writeFileSync(join(dir, 'campaign.html'), renderCampaignReport(report));
  } catch (error) {
    throw new UsageError(fileErrorMessage('cannot write', resolve(dir), error));
  }
}

/**
 * `mmsim campaign`: every built-in scenario (or those named) in its fixed variant × the
 * strategies, with fault injection on, to a budget of schedules per cell (`--schedules` in
 * all, split evenly) or time; sharded (`--shard`) and on worker threads (`--workers`, with
 * `defer`); one report (stdout, and `--out DIR`: campaign.json, campaign.md and campaign.html).
 */
export function campaignCommand(
  io: CliIo,
  options: CampaignCommandOptions,
  defer?: (code: Promise<number>) => void,
): number {
  const seed = intOption('seed', options.seed) ?? 1;
  const total = intOption('schedules', options.schedules, 1) ?? 20_000;
  const timeBudgetMs = timeBudgetOption(options.timeBudget);
  const shard: ExploreShard | undefined = shardOption(options.shard);
  const workers = workersOption(options.workers);
  const probability =
    options.faultProbability === undefined
      ? DEFAULT_FAULT_PROBABILITY
      : Number(options.faultProbability);
  if (!(probability >= 0 && probability <= 1) || options.faultProbability === '') {
    throw new UsageError(
      `--fault-probability must be a number from 0 to 1; got "${options.faultProbability}"`,
    );
  }
  const names = options.scenario ?? builtInNames();
  for (const name of names) {
    if (!builtInNames().includes(name)) {
      throw new UsageError(
        `--scenario must be a built-in scenario (mmsim scenarios); got "${name}"`,
      );
    }
  }
  const { supported, notSupported } = supportedStrategies(options.strategy ?? CAMPAIGN_STRATEGIES);
  if (options.strategy !== undefined && notSupported.length > 0) {
    throw new UsageError(`--strategy ${notSupported[0]} is not one explore supports`);
  }
  const plan: { spec: ExploreSpec; variant: string; strategyText: string }[] = [];
  const skipped: { scenario: string; reason: string }[] = [];
  for (const name of names) {
    const { variants, reason } = fixedVariants(name);
    if (variants.length === 0)
      skipped.push({ scenario: name, reason: reason ?? 'no fixed variant' });
    for (const variant of variants) {
      for (const s of supported)
        plan.push({
          spec: {
            scenario: name,
            variant,
            strategy: s.strategy,
            schedules: 0,
            seed,
            maxSteps: undefined,
            disable: undefined,
            shard,
          },
          variant,
          strategyText: strategyText(s.strategy),
        });
    }
  }
  if (plan.length === 0) throw new UsageError('campaign: no cell to run');
  const perCell = Math.max(1, Math.floor(total / plan.length));
  const perCellBudget = timeBudgetMs === undefined ? undefined : timeBudgetMs / plan.length;
  const sites = new Map<string, string[]>();
  const fixedMaxSteps = intOption('max-steps', options.maxSteps, 1);
  const limits = new Map<string, number>();
  const specs = plan.map((p) => {
    const key = `${p.spec.scenario}@${p.variant}`;
    let names = sites.get(key);
    if (names === undefined) {
      names = probability > 0 ? faultSites(p.spec) : [];
      sites.set(key, names);
    }
    let maxSteps = limits.get(key);
    if (maxSteps === undefined) {
      maxSteps = fixedMaxSteps ?? fittedStepLimit(calibrationSteps(p.spec));
      limits.set(key, maxSteps);
    }
    const faults = Object.fromEntries(names.map((n) => [n, { probability }]));
    return {
      ...p,
      faultNames: names,
      spec: {
        ...p.spec,
        schedules: perCell,
        maxSteps,
        faults,
        stopOnFirst: false,
        stepLimitApart: true,
      } as ExploreSpec,
    };
  });
  const allSites = [...new Set([...sites.values()].flat())];
  const threads = defer === undefined ? 1 : effectiveWorkers(workers, perCell, false);
  const cells: CampaignCell[] = [];
  const started = performance.now();
  const progress = (cell: CampaignCell) => {
    io.stderr(
      `campaign ${cells.length}/${specs.length}: ${cell.scenario}@${cell.variant} ${cell.strategy}: ${cell.schedules} schedule(s), ${cell.findings} finding(s)\n`,
    );
  };
  const optionsOf = (spec: ExploreSpec) => {
    const built = buildExploration(spec);
    return {
      built,
      options: {
        ...built.options,
        stopOnFirst: false,
        ...(perCellBudget === undefined ? {} : { timeBudgetMs: perCellBudget }),
      },
    };
  };
  const finish = (): number => {
    const elapsedMs = performance.now() - started;
    const schedules = sum(cells, 'schedules');
    const report: CampaignReport = {
      campaign: {
        seed,
        schedulesPerCell: perCell,
        timeBudgetSecondsPerCell: perCellBudget === undefined ? null : perCellBudget / 1000,
        shard: shard === undefined ? null : shardText(shard),
        strategies: supported.map((s) => s.text),
        strategiesNotSupported: notSupported,
        faultProbability: probability,
        faultKindsNotModelled:
          probability === 0
            ? []
            : CAMPAIGN_FAULT_KINDS.filter((k) => !allSites.some((s) => k.site.test(s))).map(
                (k) => k.kind,
              ),
        workers: threads,
      },
      cells,
      skipped,
      totals: {
        cells: cells.length,
        schedules,
        findings: sum(cells, 'findings'),
        stepLimitRuns: sum(cells, 'stepLimitRuns'),
        deadlocks: sum(cells, 'deadlocks'),
        invariantViolations: sum(cells, 'invariantViolations'),
        lostWrites: sum(cells, 'lostWrites'),
        leakedFramesOrReferences: sum(cells, 'leakedFramesOrReferences'),
        leakedLocks: sum(cells, 'leakedLocks'),
        elapsedMs,
        schedulesPerSecond: elapsedMs > 0 ? (schedules * 1000) / elapsedMs : null,
      },
    };
    if (options.out !== undefined) writeOut(options.out, report);
    io.stdout(options.json === true ? `${JSON.stringify(report)}\n` : campaignMarkdown(report));
    return report.totals.findings > 0 ? EXIT_FINDING : EXIT_OK;
  };
  const wrap = (error: unknown): never => {
    if (error instanceof MmsimError) throw new UsageError(`campaign: ${error.message}`);
    throw error;
  };
  if (threads <= 1 || defer === undefined) {
    for (const p of specs) {
      const { built, options: o } = optionsOf(p.spec);
      let r: ExploreResult;
      try {
        r = explore(built.target, o);
      } catch (error) {
        return wrap(error);
      }
      cells.push(cellOf(io, p.spec, p.variant, p.strategyText, p.faultNames, r));
      progress(cells.at(-1) as CampaignCell);
    }
    return finish();
  }
  const pool: ExplorePool = explorePool(threads);
  const runAll = async (): Promise<number> => {
    for (const p of specs) {
      const { built, options: o } = optionsOf(p.spec);
      let r: ExploreResult;
      try {
        r = isOrdered(p.spec.strategy)
          ? explore(built.target, o)
          : await exploreInBatches(built.target, o, pool.runner(p.spec));
      } catch (error) {
        return wrap(error);
      }
      cells.push(cellOf(io, p.spec, p.variant, p.strategyText, p.faultNames, r));
      progress(cells.at(-1) as CampaignCell);
    }
    return finish();
  };
  defer(runAll().finally(() => pool.destroy()));
  return EXIT_OK;
}
