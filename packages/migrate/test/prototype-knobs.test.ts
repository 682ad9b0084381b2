import { type Folio, folioGet, folioNid, folioPut, HPAGE_PMD_NR } from '@mmsim/folio';
import { isolateFolios, newList, runAll, spawn } from '@mmsim/lru/test';
import type { TlbBatch, VirtualMemory } from '@mmsim/rmap';
import { PAGE_SIZE } from '@mmsim/rmap';
import { foliosOf, mapAnon, writePages } from '@mmsim/rmap/test';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  BUILTIN_STEPS,
  defineVariant,
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  MIGRATE_SYNC_LIGHT,
  type MigrateFolioMoveStep,
  type MigrateMode,
  type MigrateVariant,
  MR_SYSCALL,
  VARIANTS,
  type VariantName,
  variantBatchModes,
} from '../src/index.js';
import {
  anonIsolated,
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  migrateToNode,
  newSpy,
  spyingRmap,
} from '../src/testing/index.js';

/** A TlbBatch that logs each try_to_unmap_flush into `events` and forwards it. */
function loggingTlb(vm: VirtualMemory, events: string[]): TlbBatch {
  return {
    tryToUnmapFlush: () => {
      events.push('flush');
      vm.tryToUnmapFlush();
    },
    tryToUnmapFlushDirty: () => vm.tryToUnmapFlushDirty(),
    flushTlbBatchedPending: (mm) => vm.flushTlbBatchedPending(mm),
  };
}

/** Unmaps (try_to_migrate calls) per try_to_unmap_flush, i.e. folios per batch. */
function batchesOf(variant: MigrateVariant | VariantName, pages: number): number[] {
  const events: string[] = [];
  const spy = newSpy();
  const m = buildMachine({
    variant,
    wrapRmap: (vm) => {
      const inner = spyingRmap(vm, spy);
      return {
        ...inner,
        tryToMigrate(folio: Folio, flags: number) {
          events.push('U');
          return inner.tryToMigrate(folio, flags);
        },
      };
    },
    wrapTlb: (vm) => loggingTlb(vm, events),
  });
  spawn(m, 'migrate', 0, function* (): KernelGen {
    const { list } = yield* anonIsolated(m, pages);
    const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_SYSCALL);
    expect(rc).toBe(0);
    expect(stats.nrSucceeded).toBe(pages);
  });
  runAll(m);
  expectQuiescent(m);
  const out: number[] = [];
  let n = 0;
  for (const e of events) {
    if (e === 'U') n++;
    else {
      out.push(n);
      n = 0;
    }
  }
  return out;
}

/**
 * Migrates 8 anon folios, the fourth with an extra reference (its move fails with -EAGAIN
 * in every pass); returns try_to_migrate calls and migrate_folio_move calls on it.
 */
function pinnedPasses(
  variant: MigrateVariant | VariantName,
  mode: MigrateMode,
): { unmaps: number; moves: number } {
  const spy = newSpy();
  let moves = 0;
  let pinned = -1;
  // Counts the move step's calls on the pinned folio, through a replaced step.
  const base = typeof variant === 'string' ? VARIANTS[variant] : variant;
  const countingMove: MigrateFolioMoveStep = function* (env, cb, src, ...rest) {
    if (src === pinned) moves++;
    return yield* BUILTIN_STEPS.migrateFolioMove(env, cb, src, ...rest);
  };
  const counted = defineVariant({
    name: `${base.name}-counted`,
    extends: base,
    steps: { migrateFolioMove: countingMove },
  });
  const m = buildMachine({ variant: counted, wrapRmap: (vm) => spyingRmap(vm, spy) });
  const { mem } = m;
  spawn(m, 'migrate', 0, function* (): KernelGen {
    const mm = m.vm.createProcess('p');
    const addr = mapAnon(m, mm, 8);
    yield* writePages(m, mm, addr, 8, (i) => 700 + i);
    const folios = foliosOf(m, mm, addr, 8);
    pinned = folios[3]!;
    folioGet(mem, pinned);
    const list = newList(m);
    yield* isolateFolios(m, folios, list);
    const { rc, stats } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL);
    expect(rc).toBe(1);
    expect(stats.nrSucceeded).toBe(7);
    expect(list.toArray()).toEqual([pinned]);
    yield* m.core.putbackMovablePages(list);
    folioPut(mem, pinned);
  });
  runAll(m);
  expectQuiescent(m);
  return { unmaps: spy.tryToMigrate.get(pinned) ?? 0, moves };
}

describe('batchSize (NR_MAX_BATCHED_MIGRATION)', () => {
  it('batchSize 4 cuts 10 small folios into batches of 4, 4 and 2, one flush each', () => {
    const four = defineVariant({ name: 'batch4', extends: 'v6.3', batchSize: 4 });
    expect(batchesOf(four, 10)).toEqual([4, 4, 2]);
    expect(batchesOf('v6.3', 10)).toEqual([10]);
  });

  it("batchSize 4 with 'over-limit' carving (the RFC's rule) also gives batches of 4", () => {
    const four = defineVariant({ name: 'rfc-batch4', extends: 'rfc-2022', batchSize: 4 });
    expect(batchesOf(four, 10)).toEqual([4, 4, 2]);
  });
});

describe('passes per mode (NR_MAX_MIGRATE_PAGES_RETRY, NR_MAX_MIGRATE_ASYNC_RETRY)', () => {
  it('the built-in pass counts: 10 move passes in a batch, 3 + 7 through migrate_pages_sync', () => {
    expect(pinnedPasses('v6.3-rc1', MIGRATE_SYNC)).toEqual({ unmaps: 1, moves: 10 });
    expect(pinnedPasses('v6.3', MIGRATE_SYNC)).toEqual({ unmaps: 2, moves: 10 });
    expect(pinnedPasses('v6.3', MIGRATE_ASYNC)).toEqual({ unmaps: 1, moves: 10 });
  });

  it('passesSync 1: a batched sync caller gives up after one pass', () => {
    const one = defineVariant({ name: 'one-pass', extends: 'v6.3-rc1', passesSync: 1 });
    expect(pinnedPasses(one, MIGRATE_SYNC)).toEqual({ unmaps: 1, moves: 1 });
    // The other modes keep their 10.
    expect(pinnedPasses(one, MIGRATE_ASYNC)).toEqual({ unmaps: 1, moves: 10 });
  });

  it('passesAsync 2 limits a MIGRATE_ASYNC caller to two move passes', () => {
    const two = defineVariant({ name: 'two-async', extends: 'v6.3', passesAsync: 2 });
    expect(pinnedPasses(two, MIGRATE_ASYNC)).toEqual({ unmaps: 1, moves: 2 });
  });

  it('asyncFirstPasses 1 and passesSync 2: one async pass, then one sync pass alone', () => {
    const v = defineVariant({
      name: 'short-sync',
      extends: 'v6.3',
      asyncFirstPasses: 1,
      passesSync: 2,
    });
    expect(pinnedPasses(v, MIGRATE_SYNC)).toEqual({ unmaps: 2, moves: 2 });
  });

  it("passesSync 1 in 6.2's unmap_and_move: one pass, one unmap", () => {
    const v = defineVariant({ name: 'one-pass-62', extends: 'v6.2', passesSync: 1 });
    expect(pinnedPasses(v, MIGRATE_SYNC).unmaps).toBe(1);
    expect(pinnedPasses('v6.2', MIGRATE_SYNC).unmaps).toBe(10);
  });
});

describe("which modes batch (syncBatching, 'batch-sync-light')", () => {
  it('lists the modes each value batches in', () => {
    expect(variantBatchModes(VARIANTS['v6.3'])).toEqual(['MIGRATE_ASYNC']);
    expect(variantBatchModes(VARIANTS['v6.3-rc1'])).toEqual([
      'MIGRATE_ASYNC',
      'MIGRATE_SYNC_LIGHT',
      'MIGRATE_SYNC',
      'MIGRATE_SYNC_NO_COPY',
    ]);
    const light = defineVariant({ name: 'l', extends: 'v6.3', syncBatching: 'batch-sync-light' });
    expect(variantBatchModes(light)).toEqual(['MIGRATE_ASYNC', 'MIGRATE_SYNC_LIGHT']);
  });

  it('a SYNC_LIGHT caller gets one batch in its mode instead of async-first', () => {
    const light = defineVariant({ name: 'l', extends: 'v6.3', syncBatching: 'batch-sync-light' });
    // async-first: unmapped in the async batch, then again alone.
    expect(pinnedPasses('v6.3', MIGRATE_SYNC_LIGHT)).toEqual({ unmaps: 2, moves: 10 });
    expect(pinnedPasses(light, MIGRATE_SYNC_LIGHT)).toEqual({ unmaps: 1, moves: 10 });
    // MIGRATE_SYNC still goes async-first.
    expect(pinnedPasses(light, MIGRATE_SYNC)).toEqual({ unmaps: 2, moves: 10 });
  });
});

/** A THP and two small folios, isolated; returns what to check. */
function* thpAndSmall(m: ReturnType<typeof buildMachine>) {
  const mm = m.vm.createProcess('p');
  const huge = mapAnon(m, mm, HPAGE_PMD_NR, true);
  const small = mapAnon(m, mm, 2);
  yield* writePages(m, mm, huge, HPAGE_PMD_NR, (i) => 10_000 + i);
  yield* writePages(m, mm, small, 2, (i) => 20_000 + i);
  const thp = foliosOf(m, mm, huge, 1)[0]!;
  const list = newList(m);
  yield* isolateFolios(m, [thp, ...foliosOf(m, mm, small, 2)], list);
  return { mm, huge, thp, list };
}

describe('splitPolicy', () => {
  for (const [policy, rcWant, splits] of [
    ['on-failure', 0, 1],
    ['never', 1, 0],
  ] as const) {
    it(`'${policy}': a THP without THP migration support is ${policy === 'never' ? 'not split and fails whole' : 'split and its pieces migrated'}`, () => {
      const v = defineVariant({ name: `split-${policy}`, extends: 'v6.3', splitPolicy: policy });
      const m = buildMachine({ variant: v, thpMigrationSupported: false });
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { mm, huge, thp, list } = yield* thpAndSmall(m);
        const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_SYSCALL);
        expect(rc).toBe(rcWant);
        expect(stats.nrThpSplit).toBe(splits);
        expect(stats.nrThpFailed).toBe(1);
        expect(stats.nrSucceeded).toBe(splits === 1 ? HPAGE_PMD_NR + 2 : 2);
        expect(stats.nrFailedPages).toBe(splits === 1 ? 0 : HPAGE_PMD_NR);
        if (splits === 0) {
          expect(list.toArray()).toEqual([thp]);
          yield* m.core.putbackMovablePages(list);
        }
        expect(yield* m.vm.userRead(mm, huge + 77 * PAGE_SIZE)).toBe(10_077);
        expect(folioNid(m.mem, m.vm.followPage(mm, huge))).toBe(splits === 1 ? 1 : 0);
      });
      runAll(m);
      expectQuiescent(m);
    });
  }
});
