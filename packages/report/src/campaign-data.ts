import type { PctGuarantee } from '@mmsim/explore';

/**
 * What the campaign page shows of an `mmsim campaign` report (the CLI's `CampaignReport`
 * has these fields and more): one cell per scenario x variant x strategy.
 */
export interface CampaignPageCell {
  readonly scenario: string;
  readonly variant: string;
  readonly strategy: string;
  readonly faults: readonly string[];
  readonly schedules: number;
  readonly findings: number;
  readonly maxSteps: number;
  readonly stepLimitRuns: number;
  readonly stepLimitReplay: string | null;
  readonly deadlocks: number;
  readonly invariantViolations: number;
  readonly lostWrites: number;
  readonly leakedFramesOrReferences: number;
  readonly leakedLocks: number;
  readonly schedulesPerSecond: number | null;
  readonly elapsedMs: number;
  readonly stoppedBy: string;
  readonly exhausted: boolean;
  /** DFS / DPOR cells: the interleaving classes covered (absent in older reports). */
  readonly classes?: number | null;
  /** Merged shards of which one had no class set: `classes` is only an upper bound. */
  readonly classesAtMost?: boolean;
  readonly findingIndex: number | null;
  readonly message: string | null;
  readonly replayCommand: string | null;
  /** PCT cells: the probabilistic guarantee of the schedules run (absent in older reports). */
  readonly pct?: PctGuarantee | null;
}

/** The campaign report as the page reads it; the CLI's report is the same with richer cells. */
export interface CampaignPageData<Cell extends CampaignPageCell = CampaignPageCell> {
  readonly campaign: {
    readonly seed: number;
    readonly schedulesPerCell: number;
    readonly timeBudgetSecondsPerCell: number | null;
    readonly shard: string | null;
    readonly strategies: readonly string[];
    readonly strategiesNotSupported: readonly string[];
    readonly faultProbability: number;
    readonly faultKindsNotModelled: readonly string[];
    readonly workers: number;
  };
  readonly cells: readonly Cell[];
  readonly skipped: readonly { readonly scenario: string; readonly reason: string }[];
  readonly totals: {
    readonly cells: number;
    readonly schedules: number;
    readonly findings: number;
    readonly stepLimitRuns: number;
    readonly deadlocks: number;
    readonly invariantViolations: number;
    readonly lostWrites: number;
    readonly leakedFramesOrReferences: number;
    readonly leakedLocks: number;
    readonly elapsedMs: number;
    readonly schedulesPerSecond: number | null;
  };
}
