import { folioNid, folioTestFlag, PG_mlocked, PG_unevictable } from '@mmsim/folio';
import { LRU_INACTIVE_ANON, LRU_UNEVICTABLE } from '@mmsim/lru';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  MR_COMPACTION,
  MR_SYSCALL,
  VARIANTS,
  type VariantName,
} from '@mmsim/migrate';
import { MAP_ANONYMOUS, MAP_LOCKED, MAP_PRIVATE, PAGE_SIZE, VM_LOCKED } from '@mmsim/rmap';
import { type KernelGen, NodeStat, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { createKernel, type Kernel } from '../src/index.js';
import { migrateOne } from './helpers.js';

/*
 * mlock end to end (Linux 6.3: mm/mlock.c, folio_add_lru_vma, try_to_migrate_one,
 * migrate_folio_move, remove_migration_pte): a VM_LOCKED fault mlocks, migration keeps
 * the folio mlocked, munlock undoes it.
 */

const LOCKED_ANON = MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED;

function machine(variant?: VariantName): Kernel {
  return createKernel({
    nodes: [{ pages: 2048 }, { pages: 2048 }],
    ...(variant === undefined ? {} : { variant }),
  });
}

function event(k: Kernel, item: number): number {
  return k.vmstat.vmEvent(item);
}

describe('mlock', () => {
  it('a fault in a VM_LOCKED VMA makes the folio PG_mlocked and puts it on the unevictable list', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 2 * PAGE_SIZE, flags: LOCKED_ANON });
    k.rt.spawn('main', 0, function* (): KernelGen {
      yield* k.vm.userWrite(mm, addr, 1);
      const f = k.vm.followPage(mm, addr);
      expect(folioTestFlag(k.mem, f, PG_mlocked)).toBe(true);
      expect(k.vmstat.nodePageState(0, NodeStat.NR_MLOCK)).toBe(1);
      expect(event(k, VmEvent.UNEVICTABLE_PGS_MLOCKED)).toBe(1);
      yield* k.lru.lruAddDrain(); // moves the mlock_fbatch too
      expect(k.lruView.folioLru(f)).toEqual({ nid: 0, lru: LRU_UNEVICTABLE });
      expect(k.lruView.mlockCount(f)).toBe(1);
      expect(event(k, VmEvent.UNEVICTABLE_PGS_CULLED)).toBe(1);
      expect(k.vmstat.nodePageState(0, NodeStat.NR_UNEVICTABLE)).toBe(1);
      expect(k.lruView.check()).toEqual([]);
      // A plain mapping is not mlocked.
      const plain = k.vm.mmap(mm, { length: PAGE_SIZE });
      yield* k.vm.userWrite(mm, plain, 2);
      expect(folioTestFlag(k.mem, k.vm.followPage(mm, plain), PG_mlocked)).toBe(false);
    });
    k.run();
  });

  for (const variant of Object.keys(VARIANTS) as VariantName[]) {
    it(`migration keeps an mlocked folio mlocked, on the target node's unevictable list (${variant})`, () => {
      const k = machine(variant);
      const mm = k.createProcess('p');
      const addr = k.vm.mmap(mm, { length: PAGE_SIZE, flags: LOCKED_ANON });
      k.rt.spawn('main', 0, function* (): KernelGen {
        yield* k.vm.userWrite(mm, addr, 42);
        yield* k.lru.lruAddDrain();
        const src = k.vm.followPage(mm, addr);
        expect(yield* migrateOne(k, src, 1, MIGRATE_SYNC, MR_SYSCALL)).toBe(0);
        const dst = k.vm.followPage(mm, addr);
        expect(folioNid(k.mem, dst)).toBe(1);
        expect(folioTestFlag(k.mem, dst, PG_mlocked)).toBe(true);
        expect(k.lruView.folioLru(dst)).toEqual({ nid: 1, lru: LRU_UNEVICTABLE });
        expect(k.lruView.mlockCount(dst)).toBe(1);
        expect(k.vmstat.nodePageState(0, NodeStat.NR_MLOCK)).toBe(0);
        expect(k.vmstat.nodePageState(1, NodeStat.NR_MLOCK)).toBe(1);
        // try_to_migrate munlocked the isolated src (stranded); dst went on an evictable
        // list through folio_add_lru (rescued) and remove_migration_pte mlocked it again.
        expect(event(k, VmEvent.UNEVICTABLE_PGS_STRANDED)).toBe(1);
        expect(event(k, VmEvent.UNEVICTABLE_PGS_MLOCKED)).toBe(2);
        expect(event(k, VmEvent.UNEVICTABLE_PGS_RESCUED)).toBe(1);
        expect(event(k, VmEvent.UNEVICTABLE_PGS_CULLED)).toBe(2);
        expect(yield* k.vm.userRead(mm, addr)).toBe(42);
        expect(k.lruView.check()).toEqual([]);
      });
      k.run();
    });
  }

  it('compaction (async) migrates an unevictable mlocked folio and it stays mlocked', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: PAGE_SIZE, flags: LOCKED_ANON });
    k.rt.spawn('main', 0, function* (): KernelGen {
      yield* k.vm.userWrite(mm, addr, 5);
      yield* k.lru.lruAddDrain();
      const src = k.vm.followPage(mm, addr);
      expect(folioTestFlag(k.mem, src, PG_unevictable)).toBe(true);
      expect(yield* migrateOne(k, src, 1, MIGRATE_ASYNC, MR_COMPACTION)).toBe(0);
      const dst = k.vm.followPage(mm, addr);
      expect(folioTestFlag(k.mem, dst, PG_mlocked)).toBe(true);
      expect(k.lruView.folioLru(dst)).toEqual({ nid: 1, lru: LRU_UNEVICTABLE });
      expect(k.lruView.check()).toEqual([]);
    });
    k.run();
  });

  it('munlock() clears VM_LOCKED and munlocks the folios; mlock() locks and populates', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 2 * PAGE_SIZE, flags: LOCKED_ANON });
    k.rt.spawn('main', 0, function* (): KernelGen {
      yield* k.vm.userWrite(mm, addr, 1);
      yield* k.lru.lruAddDrain();
      const f = k.vm.followPage(mm, addr);
      expect(yield* k.vm.munlock(mm, addr, 2 * PAGE_SIZE)).toBe(0);
      expect(mm.vmas[0]!.flags & VM_LOCKED).toBe(0);
      expect(folioTestFlag(k.mem, f, PG_mlocked)).toBe(false);
      expect(k.lruView.folioLru(f)).toEqual({ nid: 0, lru: LRU_INACTIVE_ANON });
      expect(k.vmstat.nodePageState(0, NodeStat.NR_MLOCK)).toBe(0);
      expect(event(k, VmEvent.UNEVICTABLE_PGS_MUNLOCKED)).toBe(1);
      expect(event(k, VmEvent.UNEVICTABLE_PGS_RESCUED)).toBe(1);
      expect(k.lruView.check()).toEqual([]);

      // mlock the second page only: the VMA is split, the page faulted in and mlocked.
      expect(yield* k.vm.mlock(mm, addr + PAGE_SIZE, PAGE_SIZE)).toBe(0);
      expect(mm.vmas).toHaveLength(2);
      expect(mm.vmas[1]!.flags & VM_LOCKED).toBe(VM_LOCKED);
      const g = k.vm.followPage(mm, addr + PAGE_SIZE);
      expect(folioTestFlag(k.mem, g, PG_mlocked)).toBe(true);
      expect(folioTestFlag(k.mem, f, PG_mlocked)).toBe(false);
      yield* k.lru.lruAddDrain();
      expect(k.lruView.folioLru(g)).toEqual({ nid: 0, lru: LRU_UNEVICTABLE });
      // A hole: -ENOMEM, nothing changed.
      expect(yield* k.vm.mlock(mm, addr + 2 * PAGE_SIZE, PAGE_SIZE)).toBe(-12);
      expect(k.lruView.check()).toEqual([]);
    });
    k.run();
  });

  it('munmap of a locked VMA munlocks before freeing; a forked child does not inherit VM_LOCKED', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: PAGE_SIZE, flags: LOCKED_ANON });
    k.rt.spawn('main', 0, function* (): KernelGen {
      yield* k.vm.userWrite(mm, addr, 1);
      const child = yield* k.vm.fork(mm, 'child');
      expect(child.vmas[0]!.flags & VM_LOCKED).toBe(0);
      yield* k.vm.exit(child);
      yield* k.vm.munmap(mm, addr, PAGE_SIZE);
      yield* k.lru.lruAddDrain();
      expect(k.vmstat.nodePageState(0, NodeStat.NR_MLOCK)).toBe(0);
      expect(event(k, VmEvent.UNEVICTABLE_PGS_MUNLOCKED)).toBe(1);
      expect(event(k, VmEvent.UNEVICTABLE_PGS_CLEARED)).toBe(0);
      expect(k.lruView.check()).toEqual([]);
    });
    k.run();
  });
});
