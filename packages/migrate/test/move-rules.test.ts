import {
  folioAlloc,
  folioFlags,
  folioNid,
  folioPut,
  folioRefCount,
  folioSetFlag,
  folioTestFlag,
  formatFlags,
  PG_active,
  PG_checked,
  PG_dirty,
  PG_error,
  PG_idle,
  PG_mappedtodisk,
  PG_readahead,
  PG_referenced,
  PG_unevictable,
  PG_uptodate,
  PG_workingset,
  PG_young,
  pageContent,
  setPageContent,
} from '@mmsim/folio';
import { LRU_ACTIVE_ANON, LRU_INACTIVE_FILE } from '@mmsim/lru';
import { nrIsolated, runAll, spawn } from '@mmsim/lru/test';
import { PAGE_SIZE } from '@mmsim/rmap';
import { foliosOf } from '@mmsim/rmap/test';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  MIGRATE_SYNC_NO_COPY,
  MR_MEMORY_FAILURE,
  MR_SYSCALL,
} from '../src/index.js';
import { folioMigrateCopy, folioMigrateFlags } from '../src/internal.js';
import {
  anonIsolated,
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  migrateToNode,
  pageCacheIsolated,
  traceLines,
} from '../src/testing/index.js';

describe('migrate_folio_move and folio_migrate_flags (mm/migrate.c, 6.3)', () => {
  it('folio_migrate_flags copies, moves and clears exactly the kernel list', () => {
    const m = buildMachine();
    const src = folioAlloc(m.mem, 0, 0);
    const dst = folioAlloc(m.mem, 0, 1);
    for (const f of [
      PG_error,
      PG_referenced,
      PG_uptodate,
      PG_active,
      PG_workingset,
      PG_checked,
      PG_mappedtodisk,
      PG_dirty,
      PG_young,
      PG_idle,
      PG_readahead,
    ]) {
      folioSetFlag(m.mem, src, f);
    }
    setPageContent(m.mem, src, 42);
    folioMigrateCopy(m.core.env.services, dst, src);
    expect(formatFlags(folioFlags(m.mem, dst))).toBe(
      'error|referenced|uptodate|dirty|active|workingset|owner_priv_1|mappedtodisk|reclaim|young|idle',
    );
    // Moved (test-and-clear): PG_active; copied: the rest stay on src.
    expect(folioTestFlag(m.mem, src, PG_active)).toBe(false);
    expect(folioTestFlag(m.mem, src, PG_dirty)).toBe(true);
    expect(pageContent(m.mem, dst)).toBe(42);
    // Unevictable moves when the folio is not active.
    const u = folioAlloc(m.mem, 0, 0);
    const v = folioAlloc(m.mem, 0, 1);
    folioSetFlag(m.mem, u, PG_unevictable);
    folioMigrateFlags(m.core.env.services, v, u);
    expect(folioTestFlag(m.mem, v, PG_unevictable)).toBe(true);
    expect(folioTestFlag(m.mem, u, PG_unevictable)).toBe(false);
    // Both active and unevictable is a VM_BUG_ON.
    folioSetFlag(m.mem, u, PG_active);
    folioSetFlag(m.mem, u, PG_unevictable);
    expect(() => folioMigrateFlags(m.core.env.services, v, u)).toThrow(
      /kernel BUG in folio_migrate_flags/,
    );
  });

  it("success: dst joins the LRU with src's list flags before its PTEs come back (drained when src was mapped)", () => {
    const m = buildMachine();
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const anon = yield* anonIsolated(m, 2);
      for (const f of anon.folios) folioSetFlag(m.mem, f, PG_active); // isolated from the active list
      const cache = yield* pageCacheIsolated(m, 1);
      cache.list.spliceTailInit(anon.list); // the anon folios first, then the page cache
      const { rc } = yield* migrateToNode(m, anon.list, 1, MIGRATE_ASYNC, MR_SYSCALL);
      expect(rc).toBe(0);
      // Mapped anon: folio_add_lru then lru_add_drain: on the LRU already.
      for (const dst of foliosOf(m, anon.mm, anon.addr, 2)) {
        expect(m.lru.view.folioLru(dst)).toEqual({ nid: 1, lru: LRU_ACTIVE_ANON });
      }
      // The unmapped page-cache folio: folio_add_lru only; it waits in the CPU's batch.
      const dst = cache.file.lookup(0)!;
      expect(m.lru.view.inBatch(dst)).toBe(true);
      yield* m.lru.lruAddDrainAll();
      expect(m.lru.view.folioLru(dst)).toEqual({ nid: 1, lru: LRU_INACTIVE_FILE });
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('MR_MEMORY_FAILURE: the source is not put on success (page_handle_poison does it)', () => {
    const m = buildMachine();
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const { mm, addr, folios, list } = yield* anonIsolated(m, 1);
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_MEMORY_FAILURE);
      expect(rc).toBe(0);
      expect(nrIsolated(m)).toBe(0);
      expect(folioRefCount(m.mem, folios[0]!)).toBe(1);
      expect(folioNid(m.mem, m.vm.followPage(mm, addr))).toBe(1);
      expect(yield* m.vm.userRead(mm, addr)).toBe(100);
      folioPut(m.mem, folios[0]!);
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('MIGRATE_SYNC_NO_COPY moves mappings and flags but not the data (the device copies it)', () => {
    // 6.3-rc1 runs the batch in the caller's mode; 6.3's async first attempt copies anyway.
    for (const [variant, word] of [
      ['v6.3-rc1', 0],
      ['v6.3', 7],
    ] as const) {
      noCopy(variant, word);
    }
  });
});

function noCopy(variant: 'v6.3' | 'v6.3-rc1', word: number): void {
  const m = buildMachine({ variant });
  const lines = traceLines(m);
  spawn(m, 'migrate', 0, function* (): KernelGen {
    const { mm, addr, list } = yield* anonIsolated(m, 2, (i) => 7 + i);
    const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC_NO_COPY, MR_SYSCALL);
    expect(rc).toBe(0);
    for (let i = 0; i < 2; i++) {
      expect(folioNid(m.mem, m.vm.followPage(mm, addr + i * PAGE_SIZE))).toBe(1);
      expect(yield* m.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(word === 0 ? 0 : word + i);
    }
  });
  runAll(m);
  // __print_symbolic has no MIGRATE_SYNC_NO_COPY in its table: it prints the value.
  expect(lines[0]).toBe('mm_migrate_pages_start: mode=0x3 reason=syscall_or_cpuset');
  expectQuiescent(m);
}

describe('MIGRATE_SYNC_NO_COPY in later kernels', () => {
  it('MIGRATE_SYNC_NO_COPY is rejected by a variant after 6.9', () => {
    const m = buildMachine({ variant: 'v6.11' });
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const { list } = yield* anonIsolated(m, 1);
      let error: unknown = null;
      try {
        yield* migrateToNode(m, list, 1, MIGRATE_SYNC_NO_COPY, MR_SYSCALL);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(MmsimError);
      expect((error as MmsimError).code).toBe('INVALID_ARGUMENT');
      yield* m.core.putbackMovablePages(list);
    });
    runAll(m);
    expectQuiescent(m);
  });
});
