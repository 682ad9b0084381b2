import {
  type Folio,
  folioNid,
  folioRefCount,
  folioTestFlag,
  PG_dirty,
  PG_private,
  PG_writeback,
  pageContent,
} from '@mmsim/folio';
import { runAll, spawn } from '@mmsim/lru/test';
import { BH_Uptodate } from '@mmsim/page-lock';
import { PAGE_SIZE } from '@mmsim/rmap';
import { Completion, EAGAIN, type KernelGen, NodeStat, type Task } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  type AddressSpaceOperations,
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  MIGRATE_SYNC_LIGHT,
  type MigrateMode,
  MR_COMPACTION,
  MR_SYSCALL,
  type VariantName,
  type WritepageFn,
} from '../src/index.js';
import { migrateFolio, tryToFreeBuffers } from '../src/internal.js';
import {
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  type MigrateMachine as Machine,
  migrateToNode,
  pageCacheIsolated,
} from '../src/testing/index.js';

function nodeStat(m: Machine, nid: number, item: number): number {
  return m.vmstat.nodePageState(nid, item);
}

describe('page cache through address_space_operations (move_to_new_folio, 6.3)', () => {
  it('filemap_migrate_folio (the default): i_pages, nr_file_pages and nr_dirty move; data kept', () => {
    const m = buildMachine();
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const { file, folios, list } = yield* pageCacheIsolated(m, 2, { dirty: true });
      expect(folios.every((f) => folioTestFlag(m.mem, f, PG_dirty))).toBe(true);
      const files0 = nodeStat(m, 0, NodeStat.NR_FILE_PAGES);
      const dirty0 = nodeStat(m, 0, NodeStat.NR_DIRTY);
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_COMPACTION);
      expect(rc).toBe(0);
      const dsts = [file.lookup(0)!, file.lookup(1)!];
      expect(dsts.map((f) => folioNid(m.mem, f))).toEqual([1, 1]);
      expect(dsts.every((f) => folioTestFlag(m.mem, f, PG_dirty))).toBe(true);
      // The page cache's reference, and the per-CPU lru_add batch's until it drains.
      expect(dsts.map((f) => folioRefCount(m.mem, f))).toEqual([2, 2]);
      yield* m.lru.lruAddDrainAll();
      expect(dsts.map((f) => folioRefCount(m.mem, f))).toEqual([1, 1]);
      expect(nodeStat(m, 0, NodeStat.NR_FILE_PAGES)).toBe(files0 - 2);
      expect(nodeStat(m, 1, NodeStat.NR_FILE_PAGES)).toBe(2);
      expect(nodeStat(m, 0, NodeStat.NR_DIRTY)).toBe(dirty0 - 2);
      expect(nodeStat(m, 1, NodeStat.NR_DIRTY)).toBe(2);
      expect(dsts.map((f) => pageContent(m.mem, f))).toEqual([500, 501]);
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('a mapped shared page: ->migrate_folio sees src locked and unmapped, -EAGAIN keeps it so with the same dst', () => {
    for (const mode of [MIGRATE_ASYNC, MIGRATE_SYNC] as MigrateMode[]) {
      const m = buildMachine();
      const seen: Array<{ dst: Folio; mode: number; locked: boolean; entries: string[] }> = [];
      const aops: AddressSpaceOperations = {
        name: 'countfs_aops',
        *migrateFolio(ctx, mapping, dst, src, md) {
          seen.push({
            dst,
            mode: md,
            locked:
              ctx.locks.folioLockOwner(src) === ctx.rt.current &&
              ctx.locks.folioLockOwner(dst) === ctx.rt.current,
            entries: m.vm.folioMappings(src).map((x) => x.entry.kind),
          });
          if (seen.length < 3) return -EAGAIN;
          return yield* migrateFolio(ctx, mapping, dst, src, md);
        },
      };
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { file, mm, addr, list } = yield* pageCacheIsolated(m, 1, { keepMapped: true });
        m.core.setAddressSpaceOperations(file, aops);
        const { rc } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL);
        expect(rc).toBe(0);
        expect(seen).toHaveLength(3);
        expect(new Set(seen.map((s) => s.dst)).size).toBe(1); // dst kept between move passes
        expect(seen.every((s) => s.mode === MIGRATE_ASYNC)).toBe(true); // 6.3: the async batch
        expect(seen.every((s) => s.locked)).toBe(true);
        expect(seen.every((s) => s.entries.length === 1 && s.entries[0] === 'migration')).toBe(
          true,
        );
        expect(file.lookup(0)).toBe(seen[0]!.dst);
        expect(m.vm.followPage(mm, addr)).toBe(seen[0]!.dst);
        expect(yield* m.vm.userRead(mm, addr)).toBe(500);
      });
      runAll(m);
      expectQuiescent(m);
    }
  });

  it('shmem (shmem_aops: migrate_folio): nr_shmem moves, a dirty folio needs no writeback', () => {
    const m = buildMachine();
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const { mm, addr, list } = yield* pageCacheIsolated(m, 3, { shmem: true });
      expect(nodeStat(m, 0, NodeStat.NR_SHMEM)).toBe(3);
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_COMPACTION);
      expect(rc).toBe(0);
      expect(nodeStat(m, 0, NodeStat.NR_SHMEM)).toBe(0);
      expect(nodeStat(m, 1, NodeStat.NR_SHMEM)).toBe(3);
      for (let i = 0; i < 3; i++)
        expect(yield* m.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(500 + i);
    });
    runAll(m);
    expectQuiescent(m);
  });
});

/** A filesystem without ->migrate_folio whose ->writepage writes the word to the file. */
function noMigrateFs(
  io: { task: Task | null; sync: boolean; calls: Folio[]; started: Completion },
  withWritepage = true,
): AddressSpaceOperations {
  const writepage: WritepageFn = function* (ctx, folio) {
    io.calls.push(folio);
    ctx.locks.folioStartWriteback(folio, 'nofs_writepage');
    if (io.sync) ctx.locks.folioEndWriteback(folio);
    else {
      ctx.locks.folioWritebackTransfer(folio, io.task!);
      io.started.complete();
    }
    ctx.locks.folioUnlock(folio);
    return 0;
  };
  return withWritepage
    ? { name: 'nofs_aops', migrateFolio: null, writepage }
    : { name: 'nofs_aops', migrateFolio: null };
}

describe('fallback_migrate_folio: dirty page cache with no ->migrate_folio', () => {
  /** [variant, mode, still mapped, expected rc, writepage calls]. */
  const cases: Array<[VariantName, MigrateMode, string, boolean, number, number]> = [
    // ASYNC: -EBUSY, never written out.
    ['v6.3', MIGRATE_ASYNC, 'ASYNC', false, 1, 0],
    ['v6.3', MIGRATE_ASYNC, 'ASYNC, mapped', true, 1, 0],
    // SYNC_LIGHT: -EBUSY too.
    ['v6.3', MIGRATE_SYNC_LIGHT, 'SYNC_LIGHT', false, 1, 0],
    // SYNC: the async batch gets -EBUSY; alone in SYNC it is written out (-EAGAIN), and the
    // next move pass migrates the clean folio.
    ['v6.3', MIGRATE_SYNC, 'SYNC', false, 0, 1],
    // Mapped: writeout restored the PTEs, so every later move pass finds their references.
    ['v6.3', MIGRATE_SYNC, 'SYNC, mapped', true, 1, 1],
    // 6.2: written out in pass 0 (-EAGAIN, undone), migrated clean in pass 1.
    ['v6.2', MIGRATE_SYNC, 'SYNC', false, 0, 1],
    ['v6.2', MIGRATE_SYNC, 'SYNC, mapped', true, 0, 1],
  ];
  for (const [variant, mode, what, mapped, rcWant, writes] of cases) {
    it(`${variant} ${what}: rc ${rcWant}, ${writes} writeout(s)`, () => {
      const m = buildMachine({ variant });
      const io = {
        task: null,
        sync: true,
        calls: [] as Folio[],
        started: new Completion(m.rt, 'io'),
      };
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { file, mm, addr, folios, list } = yield* pageCacheIsolated(m, 1, {
          dirty: true,
          keepMapped: mapped,
        });
        m.core.setAddressSpaceOperations(file, noMigrateFs(io));
        const dirty0 = nodeStat(m, 0, NodeStat.NR_DIRTY);
        const { rc } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL);
        expect(rc).toBe(rcWant);
        expect(io.calls).toEqual(Array.from({ length: writes }, () => folios[0]));
        if (writes > 0 && rc === 0) expect(nodeStat(m, 1, NodeStat.NR_DIRTY)).toBe(0);
        if (writes > 0 && rc !== 0) expect(nodeStat(m, 0, NodeStat.NR_DIRTY)).toBe(dirty0 - 1);
        if (rc !== 0) {
          expect(list.toArray()).toEqual(folios);
          expect(folioTestFlag(m.mem, folios[0]!, PG_dirty)).toBe(writes === 0);
          yield* m.core.putbackMovablePages(list);
        } else {
          expect(folioNid(m.mem, file.lookup(0)!)).toBe(1);
        }
        if (mapped) {
          expect(m.vm.lookupPte(mm, addr).kind).toBe('present');
          expect(yield* m.vm.userRead(mm, addr)).toBe(500);
        }
      });
      runAll(m);
      expectQuiescent(m);
    });
  }

  it('6.3: writeback started by writeout still in flight at the next move pass hits BUG_ON in migrate_folio_extra', () => {
    const m = buildMachine({ variant: 'v6.3' });
    const io = {
      task: null as Task | null,
      sync: false,
      calls: [] as Folio[],
      started: new Completion(m.rt, 'io'),
    };
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const { file, list } = yield* pageCacheIsolated(m, 1, { dirty: true });
      m.core.setAddressSpaceOperations(file, noMigrateFs(io));
      yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_SYSCALL);
    });
    io.task = spawn(m, 'io', 1, function* () {
      yield* io.started.wait();
      yield* m.rt.sleepFor(1_000_000);
      m.locks.folioEndWriteback(io.calls[0]!);
    });
    expect(() => m.rt.run()).toThrow(
      /kernel BUG in migrate_folio_extra.*BUG_ON\(folio_test_writeback\(src\)\)/,
    );
  });

  it('6.2: the same asynchronous writeback is waited for in the unmap step of a later pass', () => {
    const m = buildMachine({ variant: 'v6.2' });
    const io = {
      task: null as Task | null,
      sync: false,
      calls: [] as Folio[],
      started: new Completion(m.rt, 'io'),
    };
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const { file, list } = yield* pageCacheIsolated(m, 1, { dirty: true });
      m.core.setAddressSpaceOperations(file, noMigrateFs(io));
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_SYSCALL);
      expect(rc).toBe(0);
      expect(folioNid(m.mem, file.lookup(0)!)).toBe(1);
      expect(folioTestFlag(m.mem, file.lookup(0)!, PG_writeback)).toBe(false);
    });
    io.task = spawn(m, 'io', 1, function* () {
      yield* io.started.wait();
      yield* m.rt.sleepFor(1_000_000);
      m.locks.folioEndWriteback(io.calls[0]!);
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('no ->writepage: writeout gives -EINVAL, a permanent failure', () => {
    const m = buildMachine();
    const io = {
      task: null,
      sync: true,
      calls: [] as Folio[],
      started: new Completion(m.rt, 'io'),
    };
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const { file, folios, list } = yield* pageCacheIsolated(m, 1, { dirty: true });
      m.core.setAddressSpaceOperations(file, noMigrateFs(io, false));
      const { rc, stats } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_SYSCALL);
      expect(rc).toBe(1);
      expect(stats.nrFailedPages).toBe(1);
      expect(list.toArray()).toEqual(folios);
      expect(folioTestFlag(m.mem, folios[0]!, PG_dirty)).toBe(true);
      yield* m.core.putbackMovablePages(list);
    });
    runAll(m);
    expectQuiescent(m);
  });

  it('clean with buffers: freed by try_to_free_buffers; busy buffers: -EAGAIN in SYNC, -EBUSY otherwise', () => {
    for (const [busy, mode, rcWant, attemptsWant] of [
      [false, MIGRATE_ASYNC, 0, 1],
      [true, MIGRATE_ASYNC, 1, 1],
      // 3 async move passes (-EBUSY ends the async batch at once), then 7 sync -EAGAIN passes.
      [true, MIGRATE_SYNC, 1, 8],
    ] as Array<[boolean, MigrateMode, number, number]>) {
      const m = buildMachine();
      let releases = 0;
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { file, folios, list } = yield* pageCacheIsolated(m, 1);
        const bh = m.locks.createBuffers(folios[0]!, 4, 1 << BH_Uptodate);
        if (busy) m.locks.getBh(bh);
        m.core.setAddressSpaceOperations(file, {
          name: 'bhfs_aops',
          migrateFolio: null,
          releaseFolio: (ctx, folio) => {
            releases++;
            return tryToFreeBuffers(ctx, folio);
          },
        });
        const { rc } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL);
        expect(rc).toBe(rcWant);
        expect(releases).toBe(attemptsWant);
        if (rc === 0) {
          expect(folioTestFlag(m.mem, file.lookup(0)!, PG_private)).toBe(false);
        } else {
          m.locks.putBh(bh);
          yield* m.core.putbackMovablePages(list);
        }
      });
      runAll(m);
      expectQuiescent(m);
    }
  });
});
