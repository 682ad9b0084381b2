import { describe, expect, test } from 'vitest';
import { mergeCampaigns } from '../src/commands/merge-campaign.js';
import { parseShard, ShardSet } from '../src/commands/merge-shards.js';
import { UsageError } from '../src/usage-error.js';

describe('ShardSet: the one shard check of mmsim merge', () => {
  test('a complete set of shards 1/3 … 3/3 in any order passes', () => {
    const set = new ShardSet('2/3', 'b.json');
    set.add('2/3', 'b.json');
    set.add('3/3', 'c.json');
    set.add('1/3', 'a.json');
    expect(() => set.complete()).not.toThrow();
    expect(set.n).toBe(3);
  });

  test('an unsharded result is shard 1/1', () => {
    expect(parseShard(null, 'x.json')).toEqual({ k: 1, n: 1 });
    const set = new ShardSet(null, 'x.json');
    set.add(null, 'x.json');
    expect(() => set.complete()).not.toThrow();
  });

  test('a shard of another N, a repeated shard, a missing shard and a malformed one are usage errors', () => {
    const other = new ShardSet('1/2', 'a.json');
    other.add('1/2', 'a.json');
    expect(() => other.add('2/3', 'b.json')).toThrow(
      /b\.json: shard 2\/3 is not one of 2 like a\.json/,
    );
    const twice = new ShardSet('1/2', 'a.json');
    twice.add('1/2', 'a.json');
    expect(() => twice.add('1/2', 'c.json')).toThrow(/c\.json: shard 1\/2 again \(also a\.json\)/);
    const missing = new ShardSet('1/3', 'a.json');
    missing.add('1/3', 'a.json');
    expect(() => missing.complete()).toThrow(/shard\(s\) 2\/3, 3\/3 missing/);
    expect(() => parseShard('two', 'd.json')).toThrow(UsageError);
  });

  test('mergeCampaigns uses it: a repeated campaign shard is refused', () => {
    const report = {
      campaign: {
        seed: 1,
        schedulesPerCell: 1,
        timeBudgetSecondsPerCell: null,
        shard: '1/2',
        strategies: ['random'],
        strategiesNotSupported: [],
        faultProbability: 0,
        faultKindsNotModelled: [],
        workers: 1,
      },
      cells: [],
      skipped: [],
      totals: {
        cells: 0,
        schedules: 0,
        findings: 0,
        stepLimitRuns: 0,
        deadlocks: 0,
        invariantViolations: 0,
        lostWrites: 0,
        leakedFramesOrReferences: 0,
        leakedLocks: 0,
        elapsedMs: 0,
        schedulesPerSecond: null,
      },
    };
    expect(() => mergeCampaigns([report, report], ['a.json', 'b.json'])).toThrow(
      /b\.json: shard 1\/2 again \(also a\.json\)/,
    );
  });
});
