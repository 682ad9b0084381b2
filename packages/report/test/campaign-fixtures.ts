import type { CampaignPageCell, CampaignPageData } from '../src/index.js';

function cell(
  extra: Partial<CampaignPageCell> & Pick<CampaignPageCell, 'scenario' | 'variant' | 'strategy'>,
): CampaignPageCell {
  return {
    faults: ['migrate.alloc_migration_target', 'signal.fatal_signal_pending'],
    schedules: 100,
    findings: 0,
    maxSteps: 10_000,
    stepLimitRuns: 0,
    stepLimitReplay: null,
    deadlocks: 0,
    invariantViolations: 0,
    lostWrites: 0,
    leakedFramesOrReferences: 0,
    leakedLocks: 0,
    schedulesPerSecond: 500,
    elapsedMs: 200,
    stoppedBy: 'schedules',
    exhausted: false,
    findingIndex: null,
    message: null,
    replayCommand: null,
    ...extra,
  };
}

/**
 * A campaign of four cells: a clean random cell, a PCT cell with its guarantee, an exhausted
 * DPOR cell, and a cell with a finding whose scenario name needs escaping.
 */
export function campaignFixture(): CampaignPageData {
  const cells = [
    cell({
      scenario: 'rfc-lock-order',
      variant: 'v6.3-rc1',
      strategy: 'random',
      schedulesPerSecond: 812.4,
    }),
    cell({
      scenario: 'rfc-lock-order',
      variant: 'v6.3-rc1',
      strategy: 'pct',
      schedulesPerSecond: 640,
      pct: {
        depth: 3,
        tasks: 3,
        steps: 58,
        schedulesCounted: 100,
        perSchedule: 1 / (3 * 58 * 58),
        cumulative: 0.00986,
      },
    }),
    cell({
      scenario: 'loop-bh-deadlock',
      variant: 'v6.3',
      strategy: 'dpor:2',
      schedules: 37,
      exhausted: true,
      stoppedBy: 'exhausted',
      schedulesPerSecond: 95,
    }),
    cell({
      scenario: '<img src=x onerror=alert(1)>&co',
      variant: 'v6.3',
      strategy: 'random',
      findings: 2,
      invariantViolations: 2,
      findingIndex: 17,
      message: 'invariant frames-conserved violated: <frame 12> leaked',
      replayCommand: "mmsim replay 'mm1:abc<def>'",
      schedulesPerSecond: 120,
      stepLimitRuns: 1,
      stepLimitReplay: 'mm1:step&limit',
    }),
  ];
  return {
    campaign: {
      seed: 1,
      schedulesPerCell: 100,
      timeBudgetSecondsPerCell: null,
      shard: null,
      strategies: ['random', 'pct', 'dpor:2'],
      strategiesNotSupported: [],
      faultProbability: 0.02,
      faultKindsNotModelled: [],
      workers: 2,
    },
    cells,
    skipped: [{ scenario: 'pmbench-migrate', reason: 'no variant fixes its bug yet' }],
    totals: {
      cells: cells.length,
      schedules: 337,
      findings: 2,
      stepLimitRuns: 1,
      deadlocks: 0,
      invariantViolations: 2,
      lostWrites: 0,
      leakedFramesOrReferences: 0,
      leakedLocks: 0,
      elapsedMs: 1234,
      schedulesPerSecond: 273,
    },
  };
}
