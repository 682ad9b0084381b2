import {
  type Folio,
  folioGetPrivate,
  folioMapping,
  folioNid,
  folioOrder,
  folioSetFlag,
  folioTestFlag,
  HPAGE_PMD_NR,
  PG_lru,
  PG_mlocked,
} from '@mmsim/folio';
import { isolateFolios, newList, runAll, spawn } from '@mmsim/lru/test';
import { PAGE_SIZE, withRmapOverrides } from '@mmsim/rmap';
import { foliosOf, mapAnon, writePages } from '@mmsim/rmap/test';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  type MigrateMode,
  MM_MIGRATE_PAGES,
  MR_SYSCALL,
  resolveVariant,
  VARIANTS,
  type VariantName,
} from '../src/index.js';
import {
  anonIsolated,
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  migrateToNode,
  traceLines,
} from '../src/testing/index.js';

/**
 * The kernels after 6.3 that `v6.10` and `v6.11` model: the PAGE_WAS_MLOCKED drain rule
 * (Baolin Wang, 6.7), the unmap state kept in dst->private (6.7), and nr_split in
 * mm_migrate_pages (Zi Yan, 6.7).
 */
describe('after 6.3: lru_add_drain only for mlocked folios (PAGE_WAS_MLOCKED)', () => {
  const cases: Array<[VariantName, boolean, boolean]> = [
    // variant, src mlocked, dst on the LRU right after migrate_pages (drained)
    ['v6.3', false, true],
    ['v6.3', true, true],
    ['v6.10', false, false],
    ['v6.10', true, true],
    ['v6.11', false, false],
    ['v6.11', true, true],
  ];
  for (const [variant, mlocked, drained] of cases) {
    it(`${variant}: a mapped${mlocked ? ', mlocked' : ''} folio's dst is ${drained ? 'drained to the LRU' : 'left in the CPU batch'} by migrate_folio_move`, () => {
      const m = buildMachine({ variant });
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { mm, addr, folios, list } = yield* anonIsolated(m, 1);
        const src = folios[0]!;
        if (mlocked) folioSetFlag(m.mem, src, PG_mlocked);
        const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_SYSCALL);
        expect(rc).toBe(0);
        const dst = foliosOf(m, mm, addr, 1)[0]!;
        expect(dst).not.toBe(src);
        expect(folioTestFlag(m.mem, dst, PG_lru)).toBe(drained);
        yield* m.lru.lruAddDrain();
        expect(folioTestFlag(m.mem, dst, PG_lru)).toBe(true);
      });
      runAll(m);
      expectQuiescent(m);
    });
  }
});

describe('after 6.3: where migrate_folio_unmap leaves its state in dst', () => {
  const cases: Array<[VariantName, boolean]> = [
    ['v6.3', true],
    ['v6.10', false],
    ['v6.11', false],
  ];
  for (const [variant, inMapping] of cases) {
    it(`${variant}: between unmap and move dst->mapping ${inMapping ? 'holds the anon_vma (6.3 layout)' : 'stays empty and dst->private holds the anon_vma (6.7+)'}`, () => {
      const dsts: Folio[] = [];
      const seen: Array<{ mapping: unknown; priv: unknown }> = [];
      let calls = 0;
      const m = buildMachine({
        variant,
        // The second folio's try_to_migrate runs while the first one's dst carries the
        // recorded state (an ASYNC batch unmaps every folio before moving any).
        wrapRmap: (vm) =>
          withRmapOverrides(vm, {
            tryToMigrate(folio, flags) {
              if (++calls === 2) {
                const dst = dsts[0]!;
                seen.push({ mapping: folioMapping(m.mem, dst), priv: folioGetPrivate(m.mem, dst) });
              }
              return vm.tryToMigrate(folio, flags);
            },
          }),
      });
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { list } = yield* anonIsolated(m, 2);
        const r = yield* m.core.migratePages(
          list,
          (src, mtc) => {
            const d = m.core.allocMigrationTarget(src, mtc);
            if (d !== null) dsts.push(d);
            return d;
          },
          null,
          { nid: 1, thisNode: true },
          MIGRATE_ASYNC,
          MR_SYSCALL,
        );
        expect(r.rc).toBe(0);
      });
      runAll(m);
      expectQuiescent(m);
      expect(seen).toHaveLength(1);
      const { mapping, priv } = seen[0]!;
      if (inMapping) {
        expect(mapping).not.toBeNull();
        expect(priv).toBe(1); // page_was_mapped
      } else {
        expect(mapping).toBeNull();
        expect(priv).not.toBeNull();
        expect(typeof priv).toBe('object'); // the anon_vma
      }
    });
  }
});

describe('after 6.3: mm_migrate_pages prints nr_split (large_folio_split)', () => {
  it('the event has nr_split after nr_thp_split when large_folio_split is set, and not before 6.7', () => {
    const base = {
      succeeded: 3,
      failed: 1,
      thp_succeeded: 0,
      thp_failed: 0,
      thp_split: 0,
      mode: MIGRATE_SYNC,
      reason: MR_SYSCALL,
    };
    expect(MM_MIGRATE_PAGES.printk?.(base)).toBe(
      'nr_succeeded=3 nr_failed=1 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 mode=MIGRATE_SYNC reason=syscall_or_cpuset',
    );
    expect(MM_MIGRATE_PAGES.printk?.({ ...base, large_folio_split: 1 })).toBe(
      'nr_succeeded=3 nr_failed=1 nr_thp_succeeded=0 nr_thp_failed=0 nr_thp_split=0 nr_split=1 mode=MIGRATE_SYNC reason=syscall_or_cpuset',
    );
  });

  for (const [variant, printed] of [
    ['v6.3', false],
    ['v6.10', true],
    ['v6.11', true],
  ] as const) {
    it(`${variant}: migrate_pages ${printed ? 'prints' : 'does not print'} nr_split`, () => {
      const m = buildMachine({ variant });
      const lines = traceLines(m);
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { list } = yield* anonIsolated(m, 2);
        const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_SYSCALL);
        expect(rc).toBe(0);
        expect(stats.nrSplit).toBe(0);
      });
      runAll(m);
      expectQuiescent(m);
      const end = lines.find((l) => l.startsWith('mm_migrate_pages:'))!;
      expect(end.includes(' nr_split=0 ')).toBe(printed);
    });
  }

  it('v6.10 is v6.11 without the try_split_folio trylock, and both have the 6.7+ switches', () => {
    const a = VARIANTS['v6.10'];
    const b = VARIANTS['v6.11'];
    expect({ ...a, name: 'x', description: '', sources: [] }).toEqual({
      ...b,
      name: 'x',
      description: '',
      sources: [],
      splitTrylockInAsync: false,
      deferredSplitCountsThpFailed: false,
      numaHintPutsBackList: false,
    });
    for (const v of [a, b]) {
      expect(v.countsNrSplit && v.drainOnlyMlocked && v.dstStateInPrivate).toBe(true);
      expect(v.compactionIsolatesLarge).toBe(true);
    }
    for (const name of ['v6.2', 'rfc-2022', 'v6.3-rc1', 'v6.3'] as const) {
      const v = VARIANTS[name];
      expect([
        v.countsNrSplit,
        v.drainOnlyMlocked,
        v.dstStateInPrivate,
        v.compactionIsolatesLarge,
      ]).toEqual([false, false, false, false]);
    }
    expect(resolveVariant('v6.10')).toBe(a);
    expect(() => resolveVariant({ ...a, countsNrSplit: 1 as unknown as boolean })).toThrow(
      /variant.countsNrSplit must be a boolean/,
    );
  });
});

describe('after 6.3: a folio on the deferred-split queue is split before migrating (6.10+)', () => {
  /** A THP, PTE-mapped, whose last page was unmapped (partially mapped: on the deferred-split queue), and 2 small pages. */
  function* partiallyMappedThp(m: ReturnType<typeof buildMachine>) {
    const mm = m.vm.createProcess('p');
    const huge = mapAnon(m, mm, HPAGE_PMD_NR, true);
    const small = mapAnon(m, mm, 2);
    yield* writePages(m, mm, huge, HPAGE_PMD_NR, (i) => 10_000 + i);
    yield* writePages(m, mm, small, 2, (i) => 20_000 + i);
    const thp = foliosOf(m, mm, huge, 1)[0]!;
    yield* m.vm.munmap(mm, huge + (HPAGE_PMD_NR - 1) * PAGE_SIZE, PAGE_SIZE);
    const list = newList(m);
    yield* isolateFolios(m, [thp, ...foliosOf(m, mm, small, 2)], list);
    return { mm, huge, thp, list };
  }

  // variant, mode, split first, nr_thp_failed
  const cases: Array<[VariantName, MigrateMode, boolean, number]> = [
    ['v6.3', MIGRATE_ASYNC, false, 0],
    ['v6.3', MIGRATE_SYNC, false, 0],
    ['v6.10', MIGRATE_ASYNC, true, 0], // 6.10 counts nr_failed, not nr_thp_failed
    ['v6.10', MIGRATE_SYNC, true, 1], // migrate_pages_sync adds the async nr_thp_split
    ['v6.11', MIGRATE_ASYNC, true, 1], // Zi Yan's stats fix
    ['v6.11', MIGRATE_SYNC, true, 1],
  ];
  for (const [variant, mode, splitFirst, thpFailed] of cases) {
    it(`${variant} mode ${mode}: a partially mapped THP is ${splitFirst ? 'split first, its pieces migrated' : 'migrated whole'}; nr_thp_failed ${thpFailed}`, () => {
      const m = buildMachine({ variant });
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { mm, huge, thp, list } = yield* partiallyMappedThp(m);
        const { rc, stats } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL);
        expect(rc).toBe(0);
        expect(list.isEmpty()).toBe(true);
        expect(stats).toEqual({
          // Split or not, 512 + 2 pages: the unmapped piece is freed under us (a success).
          nrSucceeded: HPAGE_PMD_NR + 2,
          nrFailedPages: 0,
          nrThpSucceeded: splitFirst ? 0 : 1,
          nrThpFailed: thpFailed,
          nrThpSplit: splitFirst ? 1 : 0,
          nrSplit: splitFirst ? 1 : 0,
        });
        const now = foliosOf(m, mm, huge, HPAGE_PMD_NR - 1);
        expect(now.every((f) => folioNid(m.mem, f) === 1)).toBe(true);
        expect(folioOrder(m.mem, now[0]!)).toBe(splitFirst ? 0 : 9);
        if (!splitFirst) expect(now[0]).not.toBe(thp);
        for (let i = 0; i < HPAGE_PMD_NR - 1; i += 97) {
          expect(yield* m.vm.userRead(mm, huge + i * PAGE_SIZE)).toBe(10_000 + i);
        }
      });
      runAll(m);
      expectQuiescent(m);
    });
  }

  it('v6.11: a fully mapped THP is not on the queue and migrates whole', () => {
    const m = buildMachine({ variant: 'v6.11' });
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const mm = m.vm.createProcess('p');
      const huge = mapAnon(m, mm, HPAGE_PMD_NR, true);
      yield* writePages(m, mm, huge, HPAGE_PMD_NR, (i) => 10_000 + i);
      const list = newList(m);
      yield* isolateFolios(m, foliosOf(m, mm, huge, 1), list);
      const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_SYSCALL);
      expect(rc).toBe(0);
      expect(stats).toMatchObject({ nrThpSucceeded: 1, nrThpSplit: 0, nrSplit: 0 });
    });
    runAll(m);
    expectQuiescent(m);
  });
});
