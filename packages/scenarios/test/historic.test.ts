import type { VariantName } from '@mmsim/kernel';
import { formatInversion } from '@mmsim/page-lock';
import { describe, expect, it } from 'vitest';
import {
  loopBhDeadlock,
  loopWritebackDeadlock,
  rfcLockOrder,
  type Scenario,
  splitLockDeadlock,
} from '../src/index.js';
import { firstInversionWithoutDeadlock, searchSchedules } from './helpers.js';

interface HistoricCase {
  readonly scenario: Scenario;
  readonly buggy: VariantName;
  readonly fixed: VariantName;
  /** What the wait-for cycle of the deadlock must show. */
  readonly cycle: readonly RegExp[];
  /** The lock classes the inversion report must name. */
  readonly inversion: readonly RegExp[];
  /** Schedules each strategy may take to find the deadlock; default 50. */
  readonly findWithin?: number;
}

const CASES: readonly HistoricCase[] = [
  {
    scenario: rfcLockOrder(),
    buggy: 'rfc-2022',
    fixed: 'v6.3',
    cycle: [
      /move_pages-\d+ .* waits in migrate_folio_unmap/,
      /range-lock-\d+ .* waits in lock_delalloc_pages/,
    ],
    inversion: [/data\[0\]/, /data\[1\]/],
  },
  {
    scenario: loopBhDeadlock(),
    buggy: 'v6.3-rc1',
    fixed: 'v6.3',
    cycle: [
      /kcompactd0-\d+ .* waits in buffer_migrate_lock_buffers for buffer 0 of folio \w+ BH_Lock/,
      /kworker\/loop0-\d+ .* waits in shmem_write_begin/,
    ],
    inversion: [/backing\.img\[\d\]/, /buffer 0 of loop0\[\d\]/],
  },
  {
    scenario: loopWritebackDeadlock(),
    buggy: 'v6.3-rc1',
    fixed: 'v6.3',
    cycle: [
      /compact_memory-\d+ .* waits in migrate_folio_unmap for folio \w+ PG_writeback/,
      /kworker\/loop0-\d+ .* waits in shmem_write_begin/,
    ],
    inversion: [/backing\.img\[0\]/, /writeback of xfs-file\[\d\]/],
  },
  {
    scenario: splitLockDeadlock(),
    buggy: 'v6.10',
    fixed: 'v6.11',
    cycle: [
      /compact-\d+ .* waits in try_split_folio/,
      /erofs-reader-\d+ .* waits in erofs_read_metabuf/,
    ],
    inversion: [/erofs-file\[0\]/, /erofs-bdev\[0\]/],
    // Through the compaction caller (compact_memory -> compact_node -> compact_zone) the
    // first PCT deadlock is seed 97 (about 1 schedule in 100 deadlocks; the inversion shows
    // in most); the migrator-based version of the scenario deadlocked at seed 48.
    findWithin: 120,
  },
];

/** Schedules each fixed variant runs in this file (10,000 run in the slow project). */
const FIXED_SCHEDULES = 80;

describe('historic deadlocks: found in the variant that had them, gone in the one that fixed them', () => {
  for (const c of CASES) {
    const name = c.scenario.name;
    describe(name, () => {
      it(`its history names ${c.buggy} as buggy and ${c.fixed} as fixed`, () => {
        expect(c.scenario.history?.deadlocksIn).toContain(c.buggy);
        expect(c.scenario.history?.fixedIn).toContain(c.fixed);
        expect(c.scenario.sources.length).toBeGreaterThan(0);
      });

      for (const strategy of ['random', 'pct'] as const) {
        it(`${c.buggy}: ${strategy} schedules find the deadlock within ${c.findWithin ?? 50}`, () => {
          const found = searchSchedules(c.scenario, c.buggy, {
            strategy,
            schedules: c.findWithin ?? 50,
          });
          expect(found.deadlocks, found.first?.what).toBe(1);
          expect(found.failures).toBe(0);
          for (const re of c.cycle) expect(found.first?.what).toMatch(re);
        });

        it(`${c.fixed}: no deadlock, invariant failure or inversion in ${FIXED_SCHEDULES} ${strategy} schedules`, () => {
          const found = searchSchedules(c.scenario, c.fixed, {
            strategy,
            schedules: FIXED_SCHEDULES,
          });
          expect(found.first?.what ?? null).toBeNull();
          expect(found.schedules).toBe(FIXED_SCHEDULES);
          expect(found.inversionsWithoutDeadlock).toBe(0);
        });
      }

      it(`${c.buggy}: the page-lock dependency checker reports the inversion in a schedule that did not deadlock`, () => {
        const found = firstInversionWithoutDeadlock(c.scenario, c.buggy, 600);
        expect(found, 'no completed schedule with an inversion in 600').not.toBeNull();
        const report = formatInversion(found!.run.inversions[0]!);
        for (const re of c.inversion) expect(report).toMatch(re);
      });
    });
  }
});

describe('every variant behaves as the scenario history says', () => {
  for (const c of CASES) {
    const history = c.scenario.history!;
    for (const variant of history.deadlocksIn) {
      it(`${c.scenario.name}@${variant}: deadlocks`, () => {
        const found = searchSchedules(c.scenario, variant, { strategy: 'mixed', schedules: 50 });
        expect(found.deadlocks, found.first?.what).toBe(1);
      });
    }
    for (const variant of history.fixedIn) {
      it(`${c.scenario.name}@${variant}: nothing in 30 schedules`, () => {
        const found = searchSchedules(c.scenario, variant, { strategy: 'mixed', schedules: 30 });
        expect(found.first?.what ?? null).toBeNull();
      });
    }
  }
});
