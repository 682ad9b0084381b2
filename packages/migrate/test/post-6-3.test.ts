import {
  type Folio,
  folioGetPrivate,
  folioMapping,
  folioSetFlag,
  folioTestFlag,
  PG_lru,
  PG_mlocked,
} from '@mmsim/folio';
import { runAll, spawn } from '@mmsim/lru/test';
import { withRmapOverrides } from '@mmsim/rmap';
import { foliosOf } from '@mmsim/rmap/test';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
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
