import {
  type Folio,
  folioGet,
  folioNid,
  folioPut,
  folioRefCount,
  folioTestFlag,
  PG_private,
} from '@mmsim/folio';
import { runAll, spawn } from '@mmsim/lru/test';
import { BH_Uptodate, type BufferHead } from '@mmsim/page-lock';
import { Completion, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  type AddressSpaceOperations,
  BLOCKDEV_AOPS,
  BUFFER_AOPS,
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  MIGRATE_SYNC_LIGHT,
  type MigrateMode,
  MR_COMPACTION,
  type VariantName,
} from '../src/index.js';
import { bufferMigrateFolio } from '../src/internal.js';
import {
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  type MigrateMachine as Machine,
  migrateToNode,
  pageCacheIsolated,
} from '../src/testing/index.js';

/** buffer_migrate_folio, counting its calls. */
function countingBufferAops(calls: number[]): AddressSpaceOperations {
  return {
    name: 'ext4_aops (counting)',
    *migrateFolio(ctx, mapping, dst, src, mode) {
      calls.push(mode);
      return yield* bufferMigrateFolio(ctx, mapping, dst, src, mode);
    },
  };
}

/** A task that holds a buffer lock for `ns`, once `ready` completes. */
function bufferHolder(
  m: Machine,
  bh: () => BufferHead,
  ready: Completion,
  locked: Completion,
  ns: number,
): void {
  spawn(m, 'bh-holder', 1, function* () {
    yield* ready.wait();
    yield* m.locks.lockBuffer(bh(), 'submit_bh');
    locked.complete();
    yield* m.rt.sleepFor(ns);
    m.locks.unlockBuffer(bh());
  });
}

describe('buffer_migrate_folio', () => {
  it('moves the buffers with the folio: folio->private, PG_private and every b_page', () => {
    const m = buildMachine();
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const { file, folios, list } = yield* pageCacheIsolated(m, 1);
      m.core.setAddressSpaceOperations(file, BUFFER_AOPS);
      const head = m.locks.createBuffers(folios[0]!, 4, 1 << BH_Uptodate);
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_COMPACTION);
      expect(rc).toBe(0);
      const dst = file.lookup(0)!;
      expect(folioNid(m.mem, dst)).toBe(1);
      expect(m.locks.folioBuffers(dst)).toBe(head);
      expect(folioTestFlag(m.mem, dst, PG_private)).toBe(true);
      for (let bh = head, i = 0; i < 4; i++, bh = bh.thisPage) {
        expect(bh.folio).toBe(dst);
        expect(m.locks.bufferLocked(bh)).toBe(false);
      }
      yield* m.lru.lruAddDrainAll();
      expect(folioRefCount(m.mem, dst)).toBe(2); // the page cache and the buffers
    });
    runAll(m);
    expectQuiescent(m);
  });

  /** A buffer lock held by another task. [variant, mode, buffer uptodate, rc, calls]. */
  const cases: Array<[VariantName, MigrateMode, string, boolean, number, number]> = [
    // ASYNC only trylocks: -EAGAIN in each of 10 move passes.
    ['v6.3', MIGRATE_ASYNC, 'ASYNC', true, 1, 10],
    // SYNC: 3 async trylocks, then lock_buffer sleeps alone.
    ['v6.3', MIGRATE_SYNC, 'SYNC', true, 0, 4],
    ['v6.3', MIGRATE_SYNC_LIGHT, 'SYNC_LIGHT, uptodate', true, 0, 4],
    // 6.3 sleeps in lock_buffer in every mode but ASYNC, uptodate or not (this row said
    // rc 1 after 10 calls while the rule of 4bb6dc79d987 applied to every variant).
    ['v6.3', MIGRATE_SYNC_LIGHT, 'SYNC_LIGHT, not uptodate', false, 0, 4],
    // 6.2: one unmap_and_move, which sleeps in lock_buffer at once.
    ['v6.2', MIGRATE_SYNC_LIGHT, 'SYNC_LIGHT, not uptodate', false, 0, 1],
    // 6.5+ (4bb6dc79d987): SYNC_LIGHT waits for an uptodate buffer...
    ['v6.11', MIGRATE_SYNC_LIGHT, 'SYNC_LIGHT, uptodate', true, 0, 4],
    // ...not for one under read I/O.
    ['v6.11', MIGRATE_SYNC_LIGHT, 'SYNC_LIGHT, not uptodate', false, 1, 10],
  ];
  for (const [variant, mode, what, uptodate, rcWant, callsWant] of cases) {
    it(`a buffer locked elsewhere, ${variant} ${what}: rc ${rcWant} after ${callsWant} calls`, () => {
      const m = buildMachine({ variant });
      const calls: number[] = [];
      const ready = new Completion(m.rt, 'ready');
      const locked = new Completion(m.rt, 'locked');
      let head: BufferHead | null = null;
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { file, folios, list } = yield* pageCacheIsolated(m, 1);
        m.core.setAddressSpaceOperations(file, countingBufferAops(calls));
        head = m.locks.createBuffers(folios[0]!, 2, uptodate ? 1 << BH_Uptodate : 0);
        if (!uptodate) m.locks.clearBufferUptodate(head.thisPage);
        ready.complete();
        yield* locked.wait();
        const { rc } = yield* migrateToNode(m, list, 1, mode, MR_COMPACTION);
        expect(rc).toBe(rcWant);
        expect(calls).toHaveLength(callsWant);
        if (rc !== 0) {
          expect(m.locks.folioBuffers(folios[0]!)).toBe(head);
          yield* m.core.putbackMovablePages(list);
        }
      });
      bufferHolder(m, () => head!.thisPage, ready, locked, 10_000_000);
      runAll(m);
      expectQuiescent(m);
    });
  }

  it('an extra folio reference fails the early check before any buffer is locked (no sleep)', () => {
    const m = buildMachine();
    const ready = new Completion(m.rt, 'ready');
    const locked = new Completion(m.rt, 'locked');
    let head: BufferHead | null = null;
    let folio: Folio = -1;
    spawn(m, 'migrate', 0, function* (): KernelGen {
      const { file, folios, list } = yield* pageCacheIsolated(m, 1);
      folio = folios[0]!;
      m.core.setAddressSpaceOperations(file, BUFFER_AOPS);
      head = m.locks.createBuffers(folio, 1, 1 << BH_Uptodate);
      folioGet(m.mem, folio);
      ready.complete();
      yield* locked.wait();
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_COMPACTION);
      expect(rc).toBe(1);
      // Never waited for the buffer the other task holds for a whole second.
      expect(m.rt.current.cpu.clock).toBeLessThan(1_000_000_000);
      yield* m.core.putbackMovablePages(list);
      folioPut(m.mem, folio);
    });
    bufferHolder(m, () => head!, ready, locked, 1_000_000_000);
    runAll(m);
    expectQuiescent(m);
  });
});

describe('buffer_migrate_folio_norefs', () => {
  for (const [dropsRef, rcWant, invalidations] of [
    [true, 0, 1],
    [false, 1, 10],
  ] as Array<[boolean, number, number]>) {
    it(`a referenced buffer: invalidate_bh_lrus ${dropsRef ? 'drops the reference: migrated' : 'does not help: -EAGAIN'}`, () => {
      let bh: BufferHead | null = null;
      let calls = 0;
      const m = buildMachine({
        invalidateBhLrus: () => {
          calls++;
          if (dropsRef && bh !== null && bh.count > 0) m.locks.putBh(bh);
        },
      });
      spawn(m, 'migrate', 0, function* (): KernelGen {
        const { file, folios, list } = yield* pageCacheIsolated(m, 1);
        m.core.setAddressSpaceOperations(file, BLOCKDEV_AOPS);
        bh = m.locks.createBuffers(folios[0]!, 4, 1 << BH_Uptodate).thisPage;
        m.locks.getBh(bh); // a per-CPU bh LRU holds it
        const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_ASYNC, MR_COMPACTION);
        expect(rc).toBe(rcWant);
        expect(calls).toBe(invalidations);
        if (rc !== 0) {
          m.locks.putBh(bh);
          yield* m.core.putbackMovablePages(list);
        }
      });
      runAll(m);
      expectQuiescent(m);
    });
  }
});
