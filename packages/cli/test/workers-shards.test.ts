import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runBuilt as run, timeless } from './support/built-mmsim.js';
import { mmsim } from './support/mmsim.js';

const FINDING = [
  'explore',
  'loop-writeback-deadlock',
  '--variant',
  'v6.3-rc1',
  '--strategy',
  'pct',
];
const CLEAN = ['explore', 'rfc-lock-order', '--variant', 'v6.3', '--schedules', '160'];

describe('explore --workers', () => {
  test.each([
    ['a finding (pct, after several schedules)', [...FINDING, '--schedules', '400', '--seed', '1']],
    ['a clean search', CLEAN],
  ])(
    '%s: --workers 1 and --workers 2 print the same JSON',
    async (_, args) => {
      const [one, two] = await Promise.all([
        run([...args, '--json', '--workers', '1']),
        run([...args, '--json', '--workers', '2']),
      ]);
      expect(one.stderr).not.toMatch(/mmsim:|Error/);
      expect(two.code).toBe(one.code);
      expect(timeless(two.stdout)).toEqual(timeless(one.stdout));
    },
    240_000,
  );

  test('the in-process command (no worker threads) gives the same JSON too', async () => {
    const args = [...FINDING, '--schedules', '400', '--seed', '1', '--json'];
    const process2 = await run([...args, '--workers', '2']);
    const inProcess = mmsim(args);
    expect(inProcess.code).toBe(1);
    expect(timeless(inProcess.stdout)).toEqual(timeless(process2.stdout));
    expect((JSON.parse(inProcess.stdout) as { findingIndex: number }).findingIndex).toBeGreaterThan(
      0,
    );
  }, 240_000);

  test('bad --workers and --shard are usage errors (exit 2, one line)', () => {
    for (const bad of [
      ['--workers', '0'],
      ['--workers', 'x'],
      ['--shard', '4/3'],
      ['--shard', '0/3'],
      ['--shard', '1-3'],
      ['--strategy', 'dfs', '--shard', '1/2'],
    ]) {
      const r = mmsim([...CLEAN, ...bad]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});

describe('explore --shard and mmsim merge', () => {
  test.each([
    ['a finding', [...FINDING, '--schedules', '300', '--seed', '4']],
    ['a clean search', [...CLEAN, '--seed', '2']],
  ])(
    '%s: shards 1/3..3/3 as separate processes, merged, equal the unsharded search',
    async (_, args) => {
      const dir = mkdtempSync(join(tmpdir(), 'mmsim-shards-'));
      const runs = await Promise.all([
        run([...args, '--json', '--workers', '1']),
        ...[1, 2, 3].map((k) => run([...args, '--json', '--workers', '1', '--shard', `${k}/3`])),
      ]);
      const [whole, ...shards] = runs;
      const files = shards.map((s, i) => {
        expect(s.stderr).not.toMatch(/mmsim:|Error/);
        expect(JSON.parse(s.stdout).shard).toBe(`${i + 1}/3`);
        const file = join(dir, `shard-${i + 1}.json`);
        writeFileSync(file, s.stdout);
        return file;
      });
      const merged = mmsim(['merge', '--json', ...files.reverse()]);
      expect(merged.code).toBe(whole!.code);
      const { shards: count, ...mergedResult } = timeless(merged.stdout);
      expect(count).toBe(3);
      expect(mergedResult).toEqual(timeless(whole!.stdout));
    },
    240_000,
  );

  test('mismatched, missing or repeated shards, and files that are not results, exit 2 with one line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmsim-merge-'));
    const base = {
      scenario: 'rfc-lock-order',
      variant: 'v6.3',
      strategy: 'random',
      seed: 1,
      schedules: 2,
      found: false,
      kind: null,
      invariant: null,
      message: 'no finding',
      replay: null,
      replayCommand: null,
      stoppedBy: 'schedules',
      schedulesPerSecond: 10,
      scheduleLimit: 4,
      findings: 0,
      findingsByKind: {},
      findingIndex: null,
      exhausted: false,
      disable: [],
      elapsedMs: 5,
    };
    const file = (name: string, value: unknown) => {
      const path = join(dir, name);
      writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
      return path;
    };
    const a = file('a.json', { ...base, shard: '1/2' });
    const b = file('b.json', { ...base, shard: '2/2' });
    expect(mmsim(['merge', a, b]).code).toBe(0);
    for (const files of [
      [a, file('seed.json', { ...base, shard: '2/2', seed: 2 })],
      [a, file('variant.json', { ...base, shard: '2/2', variant: 'v6.2' })],
      [a, file('limit.json', { ...base, shard: '2/2', scheduleLimit: 5 })],
      [a, file('three.json', { ...base, shard: '2/3' })],
      [a],
      [a, a],
      [a, file('text.json', 'not json')],
      [a, file('other.json', { hello: 1 })],
      [a, join(dir, 'absent.json')],
    ]) {
      const r = mmsim(['merge', ...files]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
