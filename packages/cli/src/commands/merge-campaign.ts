import { UsageError } from '../usage-error.js';
import type { CampaignCell, CampaignReport } from './campaign.js';
import { mergedClasses } from './merge-classes.js';
import { mergePctGuarantees } from './merge-pct.js';
import { ShardSet } from './merge-shards.js';

/** Whether a parsed JSON value is an `mmsim campaign --json` report. */
export function isCampaignReport(value: unknown): value is CampaignReport {
  if (typeof value !== 'object' || value === null) return false;
  const o = value as Record<string, unknown>;
  return (
    typeof o.campaign === 'object' &&
    o.campaign !== null &&
    Array.isArray(o.cells) &&
    typeof o.totals === 'object'
  );
}

/** What must be equal in every shard of one campaign. */
const SAME = ['seed', 'schedulesPerCell', 'strategies', 'faultProbability'] as const;

const cellKey = (c: CampaignCell) => `${c.scenario}@${c.variant}/${c.strategy}`;

/**
 * Whether cell `a`'s finding comes before `b`'s: a DPOR cell's shards split its search into
 * subtrees run in order, so the lower subtree first, then the lower index.
 */
function cellFindsEarlier(a: CampaignCell, b: CampaignCell): boolean {
  const sa = a.findingSubtree ?? null;
  const sb = b.findingSubtree ?? null;
  if (sa !== null && sb !== null && sa !== sb) return sa < sb;
  return (a.findingIndex as number) < (b.findingIndex as number);
}

/**
 * A merged cell's classes: the union of its shards' class sets, or an upper bound
 * (`classesAtMost`) when a shard has none; no field for a cell that counts no classes.
 */
function cellClasses(
  cells: readonly CampaignCell[],
  paths: readonly string[],
): Pick<CampaignCell, 'classes' | 'classesAtMost'> {
  const { classes, exact } = mergedClasses(cells, paths);
  if (classes === null) return {};
  return exact ? { classes } : { classes, classesAtMost: true };
}

function mergeCells(cells: readonly CampaignCell[], paths: readonly string[]): CampaignCell {
  const first = cells[0] as CampaignCell;
  const { classSet: _set, classes: _classes, classesAtMost: _atMost, ...firstRest } = first;
  const add = (key: keyof CampaignCell) => cells.reduce((s, c) => s + (c[key] as number), 0);
  let lowest: CampaignCell | null = null;
  for (const c of cells) {
    if (c.findingIndex !== null && (lowest === null || cellFindsEarlier(c, lowest))) lowest = c;
  }
  // The lowest-index step-limit run (reports without its index: the first shard's).
  let lowestStepLimit: CampaignCell | null = null;
  for (const c of cells) {
    if (c.stepLimitReplay === null) continue;
    if (
      lowestStepLimit === null ||
      (c.stepLimitIndex ?? Infinity) < (lowestStepLimit.stepLimitIndex ?? Infinity)
    ) {
      lowestStepLimit = c;
    }
  }
  const byName: Record<string, number> = {};
  for (const c of cells) {
    for (const [name, n] of Object.entries(c.findingsByName))
      byName[name] = (byName[name] ?? 0) + n;
  }
  const rates = cells.map((c) => c.schedulesPerSecond);
  const findings = add('findings');
  return {
    ...firstRest,
    schedules: add('schedules'),
    findings,
    stepLimitRuns: add('stepLimitRuns'),
    stepLimitReplay: lowestStepLimit?.stepLimitReplay ?? null,
    stepLimitIndex: lowestStepLimit?.stepLimitIndex ?? null,
    deadlocks: add('deadlocks'),
    invariantViolations: add('invariantViolations'),
    lostWrites: add('lostWrites'),
    leakedFramesOrReferences: add('leakedFramesOrReferences'),
    leakedLocks: add('leakedLocks'),
    findingsByName: byName,
    schedulesPerSecond: rates.every((x) => x !== null)
      ? rates.reduce((s: number, x) => s + (x as number), 0)
      : null,
    elapsedMs: Math.max(...cells.map((c) => c.elapsedMs)),
    stoppedBy: cells.some((c) => c.stoppedBy === 'time') ? 'time' : first.stoppedBy,
    exhausted: cells.every((c) => c.exhausted),
    ...cellClasses(cells, paths),
    findingIndex: lowest?.findingIndex ?? null,
    ...(first.findingSubtree === undefined
      ? {}
      : { findingSubtree: lowest?.findingSubtree ?? null }),
    kind: lowest?.kind ?? null,
    message:
      lowest?.message ??
      (findings > 0 ? (cells.find((c) => c.message !== null)?.message ?? null) : null),
    replay: lowest?.replay ?? null,
    replayCommand: lowest?.replayCommand ?? null,
    pct: mergePctGuarantees(cells.map((c) => c.pct)) ?? null,
  };
}

/**
 * Combines the `mmsim campaign --json --shard K/N` reports of shards 1/N … N/N of one
 * campaign, as `mergeResults` does for explore: per cell the schedules and every count added
 * up, the lowest-index finding with its replay, exhausted only if every shard is; wall-clock
 * figures as a side-by-side run (longest shard, rates added). Mismatched, repeated or missing
 * shards, or cells that differ, are a `UsageError`.
 */
export function mergeCampaigns(
  reports: readonly CampaignReport[],
  paths: readonly string[],
): CampaignReport {
  const first = reports[0] as CampaignReport;
  const shards = new ShardSet(first.campaign.shard, paths[0] as string);
  reports.forEach((r, i) => {
    const path = paths[i] as string;
    for (const key of SAME) {
      if (JSON.stringify(r.campaign[key]) !== JSON.stringify(first.campaign[key])) {
        throw new UsageError(
          `${path}: ${key} ${JSON.stringify(r.campaign[key])} differs from ${JSON.stringify(first.campaign[key])} in ${paths[0]}; merge shards of one campaign only`,
        );
      }
    }
    const keys = r.cells.map(cellKey).join(',');
    if (keys !== first.cells.map(cellKey).join(',')) {
      throw new UsageError(`${path}: its cells differ from those of ${paths[0]}`);
    }
    shards.add(r.campaign.shard, path);
  });
  shards.complete();
  const cells = first.cells.map((_, i) =>
    mergeCells(
      reports.map((r) => r.cells[i] as CampaignCell),
      paths,
    ),
  );
  const sum = (key: keyof CampaignCell) => cells.reduce((s, c) => s + (c[key] as number), 0);
  const elapsedMs = Math.max(...reports.map((r) => r.totals.elapsedMs));
  const schedules = sum('schedules');
  return {
    campaign: { ...first.campaign, shard: null },
    cells,
    skipped: first.skipped,
    totals: {
      cells: cells.length,
      schedules,
      findings: sum('findings'),
      stepLimitRuns: sum('stepLimitRuns'),
      deadlocks: sum('deadlocks'),
      invariantViolations: sum('invariantViolations'),
      lostWrites: sum('lostWrites'),
      leakedFramesOrReferences: sum('leakedFramesOrReferences'),
      leakedLocks: sum('leakedLocks'),
      elapsedMs,
      schedulesPerSecond: elapsedMs > 0 ? (schedules * 1000) / elapsedMs : null,
    },
  };
}
