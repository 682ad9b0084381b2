import { type Folio, folioGet, folioPut, HPAGE_PMD_NR } from '@mmsim/folio';
import { isolateFolios, newList, spawn } from '@mmsim/lru/test';
import { BH_Uptodate, type BufferHead } from '@mmsim/page-lock';
import { foliosOf, mapAnon, writePages } from '@mmsim/rmap/test';
import { formatDeadlock, type KernelGen, type RunResult, type Task } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  BUFFER_AOPS,
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  MR_COMPACTION,
  type VariantName,
} from '../src/index.js';
import {
  anonIsolated,
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  type MigrateMachine as Machine,
  migrateToNode,
  pageCacheIsolated,
} from '../src/testing/index.js';

/** Runs the machine; returns the result and, for a deadlock, its printed cycle. */
function run(m: Machine): { result: RunResult; cycle: string } {
  const result = m.rt.run();
  const cycle = result.deadlock === null ? '' : formatDeadlock(result.deadlock);
  return { result, cycle };
}

/**
 * Alistair Popple on the 2022 RFC: a sync batch sleeps in folio_lock(F1) while it holds F0
 * unmapped and locked; the task holding F1 faults on F0's migration entry and waits for
 * F0's unlock. [variant, deadlocks].
 */
describe('the deadlocks of the series and the variants that had them', () => {
  const rfc: Array<[VariantName, boolean]> = [
    ['rfc-2022', true],
    ['v6.3-rc1', false], // -EDEADLOCK: move F0 first, then sleep on F1 holding nothing else
    ['v6.3', false],
    ['v6.2', false],
  ];
  for (const [variant, deadlocks] of rfc) {
    it(`${variant}: sleeping on a src lock while holding the batch's locks ${deadlocks ? 'deadlocks' : 'is avoided'}`, () => {
      const m = buildMachine({ variant });
      let user: Task | null = null;
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { mm, addr, folios, list } = yield* anonIsolated(m, 2);
        // The user task holds F1's lock (say, reading a file into this buffer)...
        yield* m.locks.folioLock(folios[1]!, 'filemap_read');
        m.locks.folioLockTransfer(folios[1]!, user!);
        userState.mm = mm;
        userState.addr = addr;
        userState.f1 = folios[1]!;
        const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_COMPACTION);
        expect(rc).toBe(0);
      });
      const userState = {
        mm: null as unknown as Parameters<typeof m.vm.userRead>[0],
        addr: 0,
        f1: -1 as Folio,
      };
      // ...and, when it runs, touches the page F0 maps (copy_to_user).
      user = spawn(m, 'reader', 1, function* (): KernelGen {
        expect(yield* m.vm.userRead(userState.mm, userState.addr)).toBe(100);
        m.locks.folioUnlock(userState.f1);
      });
      const { result, cycle } = run(m);
      if (deadlocks) {
        if (process.env.SHOW_CYCLES) console.log(cycle);
        expect(result.status).toBe('deadlock');
        expect(cycle).toMatch(/migrate-1.*migrate_folio_unmap/);
        expect(cycle).toMatch(/reader-2.*migration_entry_wait/);
      } else {
        expect(result.status).toBe('completed');
        expectQuiescent(m);
      }
    });
  }

  /**
   * Feb 2023, Hugh Dickins (ext4 on a loop device on tmpfs): the move phase of a sync batch
   * sleeps in lock_buffer of F1 while F0 is still locked on unmap_folios; the loop worker
   * that holds the buffer lock needs F0's lock (the backing file's folio) to finish.
   */
  const hugh: Array<[VariantName, boolean]> = [
    ['v6.3-rc1', true],
    ['rfc-2022', true],
    ['v6.3', false],
    ['v6.2', false],
  ];
  for (const [variant, deadlocks] of hugh) {
    it(`${variant}: lock_buffer inside a sync batch ${deadlocks ? 'deadlocks with the loop worker' : 'waits alone'}`, () => {
      const m = buildMachine({ variant });
      let loop: Task | null = null;
      const state = {
        bh: null as BufferHead | null,
        backing: null as null | { lookup(i: number): Folio | undefined },
      };
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const fs = yield* pageCacheIsolated(m, 1, { base: 1 });
        const back = yield* pageCacheIsolated(m, 1, { base: 2 });
        m.core.setAddressSpaceOperations(fs.file, BUFFER_AOPS);
        const head = m.locks.createBuffers(fs.folios[0]!, 1, 1 << BH_Uptodate);
        // The filesystem submitted the buffer to the loop device: the loop worker owns it.
        yield* m.locks.lockBuffer(head, 'submit_bh');
        m.locks.bufferLockTransfer(head, loop!);
        state.bh = head;
        state.backing = back.file;
        const list = newList(m);
        fs.list.spliceTailInit(list);
        back.list.spliceTailInit(list);
        const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_COMPACTION);
        expect(rc).toBe(0);
      });
      // The loop worker writes the buffer into the backing file: it locks the backing
      // file's folio, then completes the I/O (unlocks the buffer).
      loop = spawn(m, 'loop0', 1, function* (): KernelGen {
        const f = state.backing!.lookup(0)!;
        folioGet(m.mem, f);
        yield* m.locks.folioLock(f, 'shmem_write_begin');
        m.locks.folioUnlock(f);
        folioPut(m.mem, f);
        m.locks.unlockBuffer(state.bh!);
      });
      const { result, cycle } = run(m);
      if (deadlocks) {
        if (process.env.SHOW_CYCLES) console.log(cycle);
        expect(result.status).toBe('deadlock');
        expect(cycle).toMatch(/migrate-1.*buffer_migrate_lock_buffers/);
        expect(cycle).toMatch(/loop0-2.*shmem_write_begin/);
      } else {
        expect(result.status).toBe('completed');
        expectQuiescent(m);
      }
    });
  }

  /**
   * Feb 2023, Pengfei Xu (syzkaller): a sync batch waits for F1's writeback while it holds F0;
   * the loop worker must lock F0 (backing tmpfs folio) to complete that writeback.
   */
  const pengfei: Array<[VariantName, boolean]> = [
    ['v6.3-rc1', true],
    ['rfc-2022', true],
    ['v6.3', false],
    ['v6.2', false],
  ];
  for (const [variant, deadlocks] of pengfei) {
    it(`${variant}: folio_wait_writeback inside a sync batch ${deadlocks ? 'deadlocks with the loop worker' : 'waits alone'}`, () => {
      const m = buildMachine({ variant });
      let loop: Task | null = null;
      const state = {
        wb: -1 as Folio,
        backing: null as null | { lookup(i: number): Folio | undefined },
      };
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const back = yield* pageCacheIsolated(m, 1, { base: 2 });
        const { folios, list } = yield* anonIsolated(m, 1);
        // F1 is under writeback to the loop device; the loop worker will end it.
        yield* m.locks.folioLock(folios[0]!, 'writepages');
        m.locks.folioStartWriteback(folios[0]!, 'writepages');
        m.locks.folioWritebackTransfer(folios[0]!, loop!);
        m.locks.folioUnlock(folios[0]!);
        state.wb = folios[0]!;
        state.backing = back.file;
        back.list.spliceInit(list); // the backing folio first: it is locked first
        const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_COMPACTION);
        expect(rc).toBe(0);
      });
      loop = spawn(m, 'loop0', 1, function* (): KernelGen {
        const f = state.backing!.lookup(0)!;
        folioGet(m.mem, f);
        yield* m.locks.folioLock(f, '__filemap_get_folio');
        m.locks.folioUnlock(f);
        folioPut(m.mem, f);
        m.locks.folioEndWriteback(state.wb);
      });
      const { result, cycle } = run(m);
      if (deadlocks) {
        if (process.env.SHOW_CYCLES) console.log(cycle);
        expect(result.status).toBe('deadlock');
        expect(cycle).toMatch(/migrate-1.*migrate_folio_unmap/);
        expect(cycle).toMatch(/loop0-2.*__filemap_get_folio/);
      } else {
        expect(result.status).toBe('completed');
        expectQuiescent(m);
      }
    });
  }

  /**
   * Gao Xiang (2024, 2e6506e1c4ee): an ASYNC batch holds F0 unmapped; a THP gets -ENOMEM and
   * try_split_folio sleeps in folio_lock(THP), whose holder wants F0's lock.
   */
  const gao: Array<[VariantName, boolean]> = [
    ['v6.3', true],
    ['v6.11', false],
  ];
  for (const [variant, deadlocks] of gao) {
    it(`${variant}: try_split_folio in an ASYNC batch ${deadlocks ? 'sleeps and deadlocks' : 'trylocks: -EAGAIN'}`, () => {
      const m = buildMachine({ variant });
      let reader: Task | null = null;
      const state = {
        meta: null as null | { lookup(i: number): Folio | undefined },
        thp: -1 as Folio,
      };
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const meta = yield* pageCacheIsolated(m, 1, { base: 3 });
        const mm = m.vm.createProcess('p');
        const huge = mapAnon(m, mm, HPAGE_PMD_NR, true);
        yield* writePages(m, mm, huge, 1, () => 1);
        const thp = foliosOf(m, mm, huge, 1)[0]!;
        const list = newList(m);
        meta.list.spliceInit(list);
        yield* isolateFolios(m, [thp], list);
        // The reader holds the THP's lock and will want the meta folio's.
        yield* m.locks.folioLock(thp, 'filemap_read');
        m.locks.folioLockTransfer(thp, reader!);
        state.meta = meta.file;
        state.thp = thp;
        const { rc } = yield* m.core.migratePages(
          list,
          (src) => (src === thp ? null : m.core.allocMigrationTarget(src, { nid: 1 })),
          null,
          null,
          MIGRATE_ASYNC,
          MR_COMPACTION,
        );
        expect(rc).toBe(-12);
        yield* m.core.putbackMovablePages(list);
      });
      reader = spawn(m, 'reader', 1, function* (): KernelGen {
        const f = state.meta!.lookup(0)!;
        folioGet(m.mem, f);
        yield* m.locks.folioLock(f, 'erofs_read_metabuf');
        m.locks.folioUnlock(f);
        folioPut(m.mem, f);
        m.locks.folioUnlock(state.thp);
      });
      const { result, cycle } = run(m);
      if (deadlocks) {
        if (process.env.SHOW_CYCLES) console.log(cycle);
        expect(result.status).toBe('deadlock');
        expect(cycle).toMatch(/migrate-1.*try_split_folio/);
        expect(cycle).toMatch(/reader-2.*erofs_read_metabuf/);
      } else {
        expect(result.status).toBe('completed');
        expectQuiescent(m);
      }
    });
  }
});
