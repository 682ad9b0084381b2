import { folioNid, folioNrPages } from '@mmsim/folio';
import { pageCacheLookup, populateFile } from '@mmsim/kernel';
import { defineVariant, VARIANTS } from '@mmsim/migrate';
import { describe, expect, it } from 'vitest';
import {
  bhNorefsLargeFolio,
  deferredSplitChain,
  historyBugVariants,
  isolatedPutBack,
  MigrateCallLedger,
  migratePagesSuccessEmpty,
  pfnWalker,
  runScenario,
  type Scenario,
  staleDstMapping,
  zfsFallbackWriteback,
} from '../src/index.js';
import { searchSchedules } from './helpers.js';

/** Every built-in variant is in exactly one of the history's lists. */
function expectCompleteHistory(h: {
  deadlocksIn: readonly string[];
  failsIn?: readonly string[];
  fixedIn: readonly string[];
}): void {
  const all = [...h.deadlocksIn, ...(h.failsIn ?? []), ...h.fixedIn].sort();
  expect(all).toEqual(Object.keys(VARIANTS).sort());
}

describe('the regression pack: the finding in the variant that had the bug, none in the fix', () => {
  describe('zfs-fallback-writeback (openzfs/zfs#15140)', () => {
    const scenario = zfsFallbackWriteback();

    it('its history: a BUG in every batch variant, clean in v6.2', () => {
      expectCompleteHistory(scenario.history!);
      // Every batch-engine variant, the newest included; only 6.2's unmap_and_move is clean.
      expect(scenario.history?.failsIn).toEqual(
        expect.arrayContaining(['rfc-2022', 'v6.3-rc1', 'v6.3', 'v6.10', 'v6.17', 'batch-copy']),
      );
      expect(scenario.history?.fixedIn).toEqual(['v6.2']);
      expect(scenario.sources.join(' ')).toMatch(/15140/);
    });

    for (const variant of ['v6.3', 'v6.11'] as const) {
      it(`${variant}: the retried move step hits BUG_ON(folio_test_writeback(src)) in migrate_folio_extra`, () => {
        const found = searchSchedules(scenario, variant, { strategy: 'mixed', schedules: 10 });
        expect(found.first?.what).toMatch(
          /crash: INVARIANT_VIOLATED: kernel BUG in migrate_folio_extra .*BUG_ON\(folio_test_writeback\(src\)\)/,
        );
      });
    }

    it('v6.2: the unmap step of a forced pass waits for the writeback; nothing in 30 schedules', () => {
      const found = searchSchedules(scenario, 'v6.2', { strategy: 'mixed', schedules: 30 });
      expect(found.first?.what ?? null).toBeNull();
    });

    it('v6.3 with the OpenZFS fix (a ->migrate_folio, openzfs/zfs#16723): nothing in 30 schedules, the folio moves', () => {
      const fixed = zfsFallbackWriteback({ migrateFolio: true });
      const found = searchSchedules(fixed, 'v6.3', { strategy: 'mixed', schedules: 30 });
      expect(found.first?.what ?? null).toBeNull();
    });
  });

  describe('deferred-split-chain (8e279f970b5c, 6e49019db5f7)', () => {
    const scenario = deferredSplitChain();
    const rc1 = defineVariant({
      name: 'v6.10-rc1',
      extends: 'v6.10',
      deferredSplitCountsFailed: false,
    });

    it('its history: v6.10 has the NUMA putback bug; every other built-in variant is clean', () => {
      expectCompleteHistory(scenario.history!);
      expect(historyBugVariants(scenario.history!)).toEqual(['v6.10']);
      expect(scenario.sources.join(' ')).toMatch(/8e279f970b5c.*6e49019db5f7/s);
    });

    it('6.10-rc1 (deferredSplitCountsFailed off): migrate_pages() returns 0 with split pieces on the list, which nobody puts back', () => {
      const run = runScenario(scenario, { variant: rc1, seed: 1, strategy: 'random' });
      const failed = run.violations.map((v) => v.invariant);
      expect(failed).toContain('migrate-pages-success-empty');
      expect(failed).toContain('isolated-put-back');
      expect(failed).toContain('nr-isolated');
      expect(
        run.violations.find((v) => v.invariant === 'migrate-pages-success-empty')?.message,
      ).toMatch(
        /migrate_pages\(\) returned 0 to numa-fault-[ab] with \d+ folio\(s\) still on its list/,
      );
    });

    for (const strategy of ['random', 'pct'] as const) {
      it(`v6.10: ${strategy} schedules find split pieces left isolated (or the list corrupted) within 20`, () => {
        const found = searchSchedules(scenario, 'v6.10', { strategy, schedules: 20 });
        expect(found.first?.what).toMatch(
          /invariant (isolated-put-back|nr-isolated)|crash: .*(not on|list)/,
        );
        expect(found.first?.run.violations.map((v) => v.invariant) ?? []).not.toContain(
          'migrate-pages-success-empty',
        );
      });
    }

    it('v6.11 (putback_movable_pages of the whole list): nothing in 12 schedules', () => {
      const found = searchSchedules(scenario, 'v6.11', { strategy: 'mixed', schedules: 12 });
      expect(found.first?.what ?? null).toBeNull();
    });

    it('v6.3: MR_NUMA_MISPLACED never splits, the THP fails or moves whole; nothing in 20 schedules', () => {
      const found = searchSchedules(scenario, 'v6.3', { strategy: 'mixed', schedules: 20 });
      expect(found.first?.what ?? null).toBeNull();
    });
  });
});

describe('stale-dst-mapping (Baolin Wang, d1adb25df711)', () => {
  const scenario = staleDstMapping();

  it('its history: an oops in the batch variants before the fix (6.3-rc1 to 6.4 here), clean in v6.2 and from v6.10 on', () => {
    expectCompleteHistory(scenario.history!);
    expect(scenario.history?.failsIn).toEqual(['rfc-2022', 'v6.3-rc1', 'v6.3', 'v6.4']);
    expect(scenario.sources.join(' ')).toMatch(/d1adb25df711/);
  });

  for (const strategy of ['random', 'pct'] as const) {
    it(`v6.3: ${strategy} schedules find the walker reading an anon_vma as an address_space within 20`, () => {
      const found = searchSchedules(scenario, 'v6.3', { strategy, schedules: 20 });
      expect(found.first?.what).toMatch(
        /crash: INVARIANT_VIOLATED: Oops in dump_mapping: folio_mapping\(\) of pfn \d+ .* not an address_space/,
      );
    });
  }

  for (const variant of ['v6.2', 'v6.10', 'v6.11'] as const) {
    it(`${variant}: nothing in 30 schedules`, () => {
      const found = searchSchedules(scenario, variant, { strategy: 'mixed', schedules: 30 });
      expect(found.first?.what ?? null).toBeNull();
    });
  }

  it('the walker follows page-cache mappings without complaint (no false positive on a legal file folio)', () => {
    const stats = { pfns: 0, fileMappings: 0 };
    const withFile: Scenario = {
      ...scenario,
      name: 'walker-over-page-cache',
      build(k) {
        const file = k.createFile('f', { content: [1, 2, 3] });
        return {
          *setup() {
            yield* populateFile(k, file, [0, 1, 2]);
          },
          actors: [pfnWalker(k, { cpu: 0, nid: 0, rounds: 1, stats })],
        };
      },
    };
    const run = runScenario(withFile, { seed: 1 });
    expect(run.error).toBeNull();
    expect(stats.fileMappings).toBe(3);
  });
});

describe('bh-norefs-large-folio (2d900efff915)', () => {
  const scenario = bhNorefsLargeFolio();
  const rc1 = defineVariant({ name: 'v6.15-rc1', extends: 'v6.11', blockDevLargeFolios: true });
  const rc4 = defineVariant({
    name: 'v6.15-rc4',
    extends: 'v6.11',
    blockDevLargeFolios: true,
    norefsLockCoversCopy: false,
  });

  it('its history: all clean; only v6.17 has large block-device folios, and it has the fix', () => {
    expectCompleteHistory(scenario.history!);
    expect(historyBugVariants(scenario.history!)).toEqual([]);
    for (const v of Object.values(VARIANTS)) {
      expect([v.blockDevLargeFolios, v.norefsLockCoversCopy], v.name).toEqual(
        v.name === 'v6.17' ? [true, false] : [false, true],
      );
    }
  });

  it('v6.17 (large block-device folios, the lock over the count check only): the large folio migrates, nothing in 20 schedules', () => {
    const run = runScenario(scenario, { variant: 'v6.17', seed: 1 });
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
    const bdev = run.kernel.files.find((f) => f.name === 'bdev-meta')!;
    const folio = pageCacheLookup(run.kernel.mem, bdev, 0)!;
    expect(folioNrPages(run.kernel.mem, folio)).toBe(4);
    expect(folioNid(run.kernel.mem, folio)).toBe(0);
    const found = searchSchedules(scenario, 'v6.17', { strategy: 'mixed', schedules: 20 });
    expect(found.first?.what ?? null).toBeNull();
  });

  it('large block-device folios with the lock over the copy (6.15-rc1): folio_copy might_sleep under i_private_lock', () => {
    const run = runScenario(scenario, { variant: rc1, seed: 1 });
    expect(run.error?.code).toBe('SLEEP_IN_ATOMIC');
    expect(run.error?.message).toMatch(
      /sleeping function called from invalid context: offline_pages-\d+ calls folio_copy -> cond_resched with preempt_count 1/,
    );
  });

  it('with the lock over the count check only (6.15-rc4): the large folio migrates, nothing in 20 schedules', () => {
    const run = runScenario(scenario, { variant: rc4, seed: 1 });
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
    const bdev = run.kernel.files.find((f) => f.name === 'bdev-meta')!;
    const folio = pageCacheLookup(run.kernel.mem, bdev, 0)!;
    // Two migrations: to node 1 and back to node 0, a new folio each time.
    expect(folioNid(run.kernel.mem, folio)).toBe(0);
    expect(run.kernel.migrate.warnings).toEqual([]);
    for (let seed = 2; seed <= 21; seed++) {
      const r = runScenario(scenario, {
        variant: rc4,
        seed,
        strategy: seed % 2 ? 'random' : 'pct',
      });
      expect({ seed, error: r.error?.message ?? null, violations: r.violations }).toEqual({
        seed,
        error: null,
        violations: [],
      });
    }
  });

  for (const variant of ['v6.2', 'v6.3', 'v6.11'] as const) {
    it(`${variant} (order-0 block-device folios): nothing in 20 schedules`, () => {
      const found = searchSchedules(scenario, variant, { strategy: 'mixed', schedules: 20 });
      expect(found.first?.what ?? null).toBeNull();
    });
  }
});

describe('the caller-side invariants of migrate_pages()', () => {
  it('migrate-pages-success-empty: 0 with an empty list and a failure with leftovers hold; 0 with leftovers fails', () => {
    const ledger = new MigrateCallLedger();
    const inv = migratePagesSuccessEmpty(ledger);
    ledger.migratePagesReturned('compact', 0, 0);
    ledger.migratePagesReturned('compact', 2, 5);
    ledger.migratePagesReturned('compact', -12, 1);
    expect(inv.check('step')).toBeNull();
    ledger.migratePagesReturned('move_pages', 0, 3);
    expect(inv.check('step')).toMatch(
      /returned 0 to move_pages with 3 folio\(s\) still on its list/,
    );
  });

  it('isolated-put-back: a scope ending empty holds; one ending with folios on its list fails', () => {
    const ledger = new MigrateCallLedger();
    const inv = isolatedPutBack(ledger);
    ledger.isolationEnded('numa-fault', 0);
    expect(inv.check('end')).toBeNull();
    ledger.isolationEnded('numa-fault', 4);
    expect(inv.check('end')).toMatch(/numa-fault ended its isolation with 4 folio\(s\)/);
  });
});
