import { explore } from '@mmsim/explore';
import { spinAndAbba } from '@mmsim/explore/test';
import { describe, expect, test } from 'vitest';
import { type CampaignCell, type CampaignReport, cellOf } from '../src/commands/campaign.js';
import { mergeCampaigns } from '../src/commands/merge-campaign.js';
import type { ExploreSpec } from '../src/workers/explore-spec.js';

const io = { stdout: () => {}, stderr: () => {}, isTTY: false, env: {} } as never;
const spec = {
  scenario: 'spin-and-ab-ba',
  variant: 'v6.3',
  strategy: 'random',
  schedules: 40,
  seed: 1,
  maxSteps: 16,
  disable: undefined,
  shard: undefined,
} as ExploreSpec;

describe('campaign cells: step-limit runs apart from the findings', () => {
  test('a step-limit run before a deadlock: the cell replays the deadlock and keeps the step-limit run apart', () => {
    let hidden = 0;
    for (let seed = 1; seed <= 30; seed++) {
      const base = { seed, schedules: 40, maxSteps: 16, stopOnFirst: false, shrink: false };
      const mixed = explore(spinAndAbba(), base);
      if (mixed.kind !== 'step-limit' || (mixed.findingsByKind.deadlock ?? 0) === 0) continue;
      hidden++;
      const r = explore(spinAndAbba(), { ...base, stepLimitApart: true });
      const cell = cellOf(io, spec, 'v6.3', 'random', [], r);
      expect(cell.kind).toBe('deadlock');
      expect(cell.deadlocks).toBe(mixed.findingsByKind.deadlock);
      expect(cell.findings).toBe(mixed.findings - (mixed.findingsByKind['step-limit'] ?? 0));
      expect(cell.findingIndex).toBe(r.findingIndex);
      expect(cell.findingIndex).toBeGreaterThan(mixed.findingIndex as number);
      expect(cell.replay).toBe(r.replay);
      expect(cell.replayCommand).toContain(r.replay as string);
      expect(cell.stepLimitRuns).toBe(mixed.findingsByKind['step-limit']);
      expect(cell.stepLimitIndex).toBe(mixed.findingIndex);
      expect(cell.stepLimitReplay).toBe(r.stepLimit?.replay);
    }
    expect(hidden).toBeGreaterThan(0);
  });

  test('merged shards keep the lowest-index step-limit run, whichever shard holds it', () => {
    const cell = (stepLimitIndex: number | null, replay: string | null): CampaignCell =>
      ({
        scenario: 's',
        variant: 'v6.3',
        strategy: 'random',
        faults: [],
        schedules: 10,
        findings: 0,
        maxSteps: 100,
        stepLimitRuns: stepLimitIndex === null ? 0 : 1,
        stepLimitReplay: replay,
        stepLimitIndex,
        deadlocks: 0,
        invariantViolations: 0,
        lostWrites: 0,
        leakedFramesOrReferences: 0,
        leakedLocks: 0,
        findingsByName: {},
        schedulesPerSecond: 1,
        elapsedMs: 1,
        stoppedBy: 'schedules',
        exhausted: false,
        findingIndex: null,
        kind: null,
        message: null,
        replay: null,
        replayCommand: null,
      }) as CampaignCell;
    const report = (shard: string, c: CampaignCell): CampaignReport =>
      ({
        campaign: {
          seed: 1,
          schedulesPerCell: 20,
          timeBudgetSecondsPerCell: null,
          shard,
          strategies: ['random'],
          strategiesNotSupported: [],
          faultProbability: 0,
          faultKindsNotModelled: [],
          workers: 1,
        },
        cells: [c],
        skipped: [],
        totals: {} as CampaignReport['totals'],
      }) as CampaignReport;
    const merged = mergeCampaigns(
      [report('1/2', cell(6, 'mmsim1.six')), report('2/2', cell(3, 'mmsim1.three'))],
      ['a.json', 'b.json'],
    );
    expect(merged.cells[0]!.stepLimitIndex).toBe(3);
    expect(merged.cells[0]!.stepLimitReplay).toBe('mmsim1.three');
    expect(merged.cells[0]!.stepLimitRuns).toBe(2);
  });
});
