import { formatFinding, replay } from '@mmsim/explore';
import type { KernelParts, VariantName } from '@mmsim/kernel';
import { describe, expect, it } from 'vitest';
import {
  exploreScenario,
  INVERSION_CHECK,
  loopBhDeadlock,
  loopWritebackDeadlock,
  migrateUnderWrites,
  rfcLockOrder,
  type Scenario,
  scenarioTarget,
  splitLockDeadlock,
} from '../src/index.js';

interface Case {
  readonly scenario: Scenario;
  readonly buggy: VariantName;
  readonly fixed: VariantName;
  /** Who sleeps where in the deadlock. */
  readonly cycle: readonly RegExp[];
}

const CASES: readonly Case[] = [
  {
    scenario: rfcLockOrder(),
    buggy: 'rfc-2022',
    fixed: 'v6.3',
    cycle: [
      /move_pages-\d+ waits in migrate_folio_unmap/,
      /range-lock-\d+ waits in lock_delalloc_pages/,
    ],
  },
  {
    scenario: loopBhDeadlock(),
    buggy: 'v6.3-rc1',
    fixed: 'v6.3',
    cycle: [
      /kcompactd0-\d+ waits in buffer_migrate_lock_buffers/,
      /kworker\/loop0-\d+ waits in shmem_write_begin/,
    ],
  },
  {
    scenario: loopWritebackDeadlock(),
    buggy: 'v6.3-rc1',
    fixed: 'v6.3',
    cycle: [
      /compact_memory-\d+ waits in migrate_folio_unmap for folio \w+ PG_writeback/,
      /kworker\/loop0-\d+ waits in shmem_write_begin/,
    ],
  },
  {
    scenario: splitLockDeadlock(),
    buggy: 'v6.10',
    fixed: 'v6.11',
    cycle: [/compact-\d+ waits in try_split_folio/, /erofs-reader-\d+ waits in erofs_read_metabuf/],
  },
];

describe('exploring the historic scenarios of @mmsim/scenarios', () => {
  for (const c of CASES) {
    for (const strategy of ['random', 'pct'] as const) {
      it(`${c.scenario.name}@${c.buggy}: ${strategy} exploration finds the deadlock, shrinks and replays it`, () => {
        const result = exploreScenario(c.scenario, {
          variant: c.buggy,
          strategy,
          seed: 7,
          schedules: 200,
          disable: [INVERSION_CHECK],
          shrink: { maxReplays: 40 },
        });
        expect(result.kind).toBe('deadlock');
        expect(result.schedules).toBeLessThanOrEqual(200);
        for (const re of c.cycle) expect(result.message).toMatch(re);
        const text = formatFinding(result.finding!);
        expect(text).toMatch(new RegExp(`deadlock in target "${c.scenario.name}@${c.buggy}"`));
        const again = replay(scenarioTarget(c.scenario, { variant: c.buggy }), result.replay!, {
          disable: [INVERSION_CHECK],
        });
        expect(again.finding?.kind).toBe('deadlock');
      });
    }

    it(`${c.scenario.name}@${c.buggy}: with the dependency checker, the inversion is reported`, () => {
      const result = exploreScenario(c.scenario, {
        variant: c.buggy,
        strategy: 'random',
        schedules: 200,
        shrink: false,
      });
      expect(result.kind).toBe('inversion');
      expect(result.message).toMatch(/^page-lock inversion: /);
    });

    it(`${c.scenario.name}@${c.fixed}: nothing in 60 random and 60 PCT schedules, inversions checked`, () => {
      for (const strategy of ['random', 'pct'] as const) {
        const result = exploreScenario(c.scenario, { variant: c.fixed, strategy, schedules: 60 });
        expect(result.message).toMatch(/^no finding in 60/);
        expect(result.found).toBe(false);
      }
    });
  }

  it('migrate-under-writes: nothing in any variant', () => {
    for (const variant of ['v6.2', 'rfc-2022', 'v6.3-rc1', 'v6.3', 'v6.10', 'v6.11'] as const) {
      const result = exploreScenario(migrateUnderWrites(), {
        variant,
        strategy: 'random',
        schedules: 3,
      });
      expect(result.message).toMatch(/^no finding/);
    }
  });

  it('migrate-under-writes: a TLB batch that never flushes is caught and shrunk', () => {
    const noFlush: NonNullable<KernelParts['tlb']> = (vm) => ({
      tryToUnmapFlush: () => {},
      tryToUnmapFlushDirty: () => {},
      flushTlbBatchedPending: (mm) => vm.flushTlbBatchedPending(mm),
    });
    const result = exploreScenario(migrateUnderWrites(), {
      variant: 'v6.3',
      parts: { tlb: noFlush },
      schedules: 20,
      shrink: { maxReplays: 20 },
    });
    expect(result.found).toBe(true);
    expect(['crash', 'invariant']).toContain(result.kind);
  });

  it('scenarioTarget refuses what the explorer chooses', () => {
    expect(() => scenarioTarget(rfcLockOrder(), { seed: 3 } as never)).toThrow(
      /seed is chosen by the explorer/,
    );
  });
});
