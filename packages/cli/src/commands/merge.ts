import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { exhaustedLine, type PctGuarantee } from '@mmsim/explore';
import { renderCampaignReport } from '@mmsim/report';
import { EXIT_FINDING, EXIT_OK } from '../exit-codes.js';
import { fileErrorMessage } from '../file-error.js';
import type { CliIo } from '../io.js';
import { UsageError } from '../usage-error.js';
import { type CampaignReport, campaignMarkdown } from './campaign.js';
import { isCampaignReport, mergeCampaigns } from './merge-campaign.js';
import { mergedClasses } from './merge-classes.js';
import { mergePctGuarantees } from './merge-pct.js';
import { ShardSet } from './merge-shards.js';

export interface MergeCommandOptions {
  readonly json?: boolean;
  /** Campaign reports only: write the merged campaign's HTML page (`renderCampaignReport`) here. */
  readonly html?: string;
}

/** The fields of `mmsim explore --json` that merging reads. */
export interface ExploreJson {
  readonly scenario: string;
  readonly variant: string;
  readonly strategy: string;
  readonly seed: number;
  readonly schedules: number;
  readonly found: boolean;
  readonly kind: string | null;
  readonly invariant: string | null;
  readonly message: string;
  readonly replay: string | null;
  readonly replayCommand: string | null;
  readonly stoppedBy: string;
  readonly schedulesPerSecond: number | null;
  readonly scheduleLimit: number;
  readonly shard: string | null;
  readonly findings: number;
  readonly findingsByKind: Readonly<Record<string, number>>;
  /** Schedules that ran into the step limit (absent in results of older versions). */
  readonly stepLimitRuns?: number;
  readonly findingIndex: number | null;
  /** DPOR: the subtree of the finding's run (`DporSearch.subtree`); else null or absent. */
  readonly findingSubtree?: number | null;
  readonly exhausted: boolean;
  /** DFS / DPOR: the preemption bound; else null. */
  readonly bound?: number | null;
  readonly executions?: number;
  /** DFS / DPOR: interleaving classes; else null. */
  readonly classes?: number | null;
  /**
   * A DPOR shard (`--shard K/N`, N > 1): the classes counted in `classes`, encoded
   * (merge-classes.ts); absent in results of older versions.
   */
  readonly classSet?: string;
  /** PCT with nothing found: its guarantee over the schedules run. */
  readonly pct?: PctGuarantee;
  readonly disable: readonly string[];
  readonly elapsedMs: number;
}

/** The explore result of one search, as `--json` prints it (one of several shards merged). */
export interface MergedJson extends ExploreJson {
  /** How many shard results were merged. */
  readonly shards: number;
}

const REQUIRED: readonly (keyof ExploreJson)[] = [
  'scenario',
  'variant',
  'strategy',
  'seed',
  'schedules',
  'found',
  'stoppedBy',
  'scheduleLimit',
  'shard',
  'findings',
  'findingsByKind',
  'findingIndex',
  'elapsedMs',
];

function readResult(path: string, cwd: string | undefined): ExploreJson | CampaignReport {
  let text: string;
  try {
    text = readFileSync(cwd === undefined ? path : resolve(cwd, path), 'utf8');
  } catch (error) {
    throw new UsageError(fileErrorMessage('cannot read', path, error));
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`${path}: not JSON (give the output of mmsim explore --json --shard K/N)`);
  }
  if (isCampaignReport(value)) return value;
  const o = value as Record<string, unknown>;
  const missing =
    typeof o !== 'object' || o === null ? 'everything' : REQUIRED.find((k) => !(k in o));
  if (missing !== undefined) {
    throw new UsageError(
      `${path}: not an mmsim explore --json result (no "${missing}"; run mmsim explore --json --shard K/N)`,
    );
  }
  return o as unknown as ExploreJson;
}

/** What must be equal in every shard of one search. */
const SAME: readonly (keyof ExploreJson)[] = [
  'scenario',
  'variant',
  'strategy',
  'seed',
  'scheduleLimit',
  'disable',
];

/**
 * Combines the `explore --json` results of the shards 1/N … N/N of one search into the result
 * the unsharded search gives: the lowest-index finding (with its replay token), the schedules
 * up to it (all of them when none), exhausted only if every shard is. The wall-clock figures
 * are the campaign's: `elapsedMs` the longest shard, `schedulesPerSecond` the shards' rates
 * added up (their throughput when they run side by side). Mismatched or missing shards are a
 * `UsageError`.
 */
export function mergeResults(
  results: readonly ExploreJson[],
  paths: readonly string[],
): MergedJson {
  if (results.length === 0) throw new UsageError('merge needs at least one result file');
  const first = results[0] as ExploreJson;
  const shards = new ShardSet(first.shard, paths[0] as string);
  results.forEach((r, i) => {
    const path = paths[i] as string;
    for (const key of SAME) {
      if (JSON.stringify(r[key]) !== JSON.stringify(first[key])) {
        throw new UsageError(
          `${path}: ${key} ${JSON.stringify(r[key])} differs from ${JSON.stringify(first[key])} in ${paths[0]}; merge shards of one search only`,
        );
      }
    }
    shards.add(r.shard, path);
  });
  shards.complete();
  let lowest: ExploreJson | null = null;
  for (const r of results) {
    if (r.findingIndex !== null && (lowest === null || findsEarlier(r, lowest))) lowest = r;
  }
  const timeUp = results.some((r) => r.stoppedBy === 'time');
  // A DPOR shard's indices are its own executions, not the unsharded search's: no cut-off.
  const dpor = first.strategy.split(':')[0] === 'dpor';
  let schedules: number;
  let findings: number;
  let byKind: Record<string, number>;
  let stoppedBy: string;
  if (lowest !== null && lowest.stoppedBy === 'finding' && !timeUp && !dpor) {
    // Every shard ran each of its indices below the finding: the unsharded search stops there.
    schedules = (lowest.findingIndex as number) + 1;
    findings = 1;
    byKind = { [lowest.kind as string]: 1 };
    stoppedBy = 'finding';
  } else {
    schedules = results.reduce((s, r) => s + r.schedules, 0);
    findings = results.reduce((s, r) => s + r.findings, 0);
    byKind = {};
    for (const r of results) {
      for (const [kind, count] of Object.entries(r.findingsByKind)) {
        byKind[kind] = (byKind[kind] ?? 0) + count;
      }
    }
    stoppedBy =
      lowest !== null
        ? 'finding'
        : timeUp
          ? 'time'
          : results.every((r) => r.exhausted === true)
            ? 'exhausted'
            : 'schedules';
  }
  const strategyKind = first.strategy.split(':')[0];
  const exhausted = results.every((r) => r.exhausted === true);
  const { classes, exact } = mergedClasses(results, paths);
  const message =
    lowest !== null
      ? lowest.message
      : exhausted && typeof first.bound === 'number' && classes !== null
        ? exact
          ? exhaustedLine(first.bound, schedules, classes)
          : mergedExhaustedLine(first.bound, schedules, classes, results.length)
        : timeUp
          ? `no finding in ${schedules} ${strategyKind} schedule(s): the time budget ran out in a shard`
          : `no finding in ${schedules} ${strategyKind} schedule(s) (the schedule limit)`;
  const rates = results.map((r) => r.schedulesPerSecond);
  return {
    scenario: first.scenario,
    variant: first.variant,
    strategy: first.strategy,
    seed: first.seed,
    schedules,
    found: lowest !== null,
    kind: lowest?.kind ?? null,
    invariant: lowest?.invariant ?? null,
    message,
    replay: lowest?.replay ?? null,
    replayCommand: lowest?.replayCommand ?? null,
    stoppedBy,
    schedulesPerSecond: rates.every((x) => x !== null)
      ? rates.reduce((s: number, x) => s + (x as number), 0)
      : null,
    scheduleLimit: first.scheduleLimit,
    shard: null,
    findings,
    findingsByKind: byKind,
    // As explore --json: the schedules counted that ran into the step limit.
    stepLimitRuns: byKind['step-limit'] ?? 0,
    findingIndex: lowest?.findingIndex ?? null,
    findingSubtree: lowest?.findingSubtree ?? null,
    exhausted,
    bound: first.bound ?? null,
    executions: schedules,
    // The union of the shards' class sets when every shard wrote one (exact); else the
    // shards' counts added up, an upper bound (two shards' runs can be of one class).
    classes,
    ...(lowest === null ? mergedPct(results) : {}),
    disable: first.disable,
    elapsedMs: Math.max(...results.map((r) => r.elapsedMs)),
    shards: shards.n,
  };
}

/**
 * Whether shard result `a`'s finding comes before `b`'s in the unsharded search: the lower
 * DPOR subtree (the search runs its subtrees in order), then the lower index.
 */
function findsEarlier(a: ExploreJson, b: ExploreJson): boolean {
  const sa = a.findingSubtree ?? null;
  const sb = b.findingSubtree ?? null;
  if (sa !== null && sb !== null && sa !== sb) return sa < sb;
  return (a.findingIndex as number) < (b.findingIndex as number);
}

/** The guarantee line of exhausted DFS or DPOR shards merged (`exhaustedLine` for one). */
function mergedExhaustedLine(
  bound: number,
  executions: number,
  classes: number,
  shards: number,
): string {
  if (shards === 1) return exhaustedLine(bound, executions, classes);
  return (
    `exhausted: every schedule up to preemption bound ${bound} explored — ` +
    `${executions} executions in ${shards} shards covering at most ${classes} interleaving classes`
  );
}

/** `mmsim merge FILE...`: one report from the `explore --json --shard K/N` results of a search. */
export function mergeCommand(
  io: CliIo,
  files: readonly string[],
  options: MergeCommandOptions,
): number {
  const read = files.map((f) => readResult(f, io.cwd));
  const campaigns = read.filter(isCampaignReport);
  if (campaigns.length > 0) {
    // `mmsim campaign --json --shard K/N` reports: one campaign report.
    if (campaigns.length !== read.length) {
      throw new UsageError('merge either explore results or campaign reports, not both');
    }
    const report = mergeCampaigns(campaigns, files);
    if (options.html !== undefined) writeCampaignHtml(options.html, report, io.cwd);
    io.stdout(options.json === true ? `${JSON.stringify(report)}\n` : campaignMarkdown(report));
    return report.totals.findings > 0 ? EXIT_FINDING : EXIT_OK;
  }
  if (options.html !== undefined) {
    throw new UsageError(
      '--html writes the page of a campaign: merge campaign --json reports to use it',
    );
  }
  const results = read as ExploreJson[];
  const merged = mergeResults(results, files);
  if (options.json === true) {
    io.stdout(`${JSON.stringify(merged)}\n`);
  } else {
    io.stdout(
      `mmsim merge: ${merged.scenario} (variant ${merged.variant}, ${merged.strategy}, seed ${merged.seed}), ${merged.shards} shard(s): ` +
        (merged.found
          ? `found at schedule ${merged.findingIndex}: ${merged.message}\n${merged.replayCommand ?? ''}\n`
          : `${merged.message}\n`),
    );
  }
  return merged.found ? EXIT_FINDING : EXIT_OK;
}

/** Writes the merged campaign's offline HTML page to `file` (relative to `cwd`). */
function writeCampaignHtml(file: string, report: CampaignReport, cwd: string | undefined): void {
  const path = cwd === undefined ? file : resolve(cwd, file);
  try {
    writeFileSync(path, renderCampaignReport(report));
  } catch (error) {
    throw new UsageError(fileErrorMessage('cannot write', path, error));
  }
}

/** PCT's guarantee of the shards together when nothing was found (`mergePctGuarantees`). */
function mergedPct(results: readonly ExploreJson[]): { pct?: PctGuarantee } {
  const pct = mergePctGuarantees(results.map((r) => r.pct));
  return pct === undefined ? {} : { pct };
}
