import { createPhysicalMemory, type Folio, folioGet, folioPut, pfnFolio } from '@mmsim/folio';
import { PageLockTable } from '@mmsim/page-lock';
import { Completion, FootprintLog, type KernelGen, Runtime, VmStat } from '@mmsim/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MAP_SHARED,
  type MmView,
  PAGE_SIZE,
  TTU_BATCH_FLUSH,
  TTU_RMAP_LOCKED,
  VirtualMemory,
} from '../src/index.js';
import {
  mutableAddressSpace,
  mutableAnonVma,
  mutableMm,
  PageTable,
  PageTableMap,
  pmdIndexOf,
  pteIndexOfVpn,
  rmapUncontended,
} from '../src/internal.js';

const PAGES = 8;

/** A machine of two CPUs and two nodes, with step footprints recorded or not. */
function machine(footprints: boolean) {
  const rt = new Runtime({
    cpus: 2,
    cpuNodes: [0, 1],
    footprints: footprints ? new FootprintLog() : null,
  });
  const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }, { pages: 1024 }] });
  const vmstat = new VmStat(2);
  const locks = new PageLockTable(rt, mem);
  const vm = new VirtualMemory(rt, mem, locks, vmstat, { zeroPage: false });
  return { rt, mem, vmstat, locks, vm };
}

/** What `unmapAndRestore` maps: anon pages, or a file's page-cache pages mapped shared. */
type Backing = 'anon' | 'file';

/**
 * Writes PAGES anon pages (or pages of a shared file mapping) from CPU 0, then unmaps each
 * folio with try_to_migrate (TTU_BATCH_FLUSH) and maps it back with
 * remove_migration_ptes(folio, folio), with the uncontended walks on or off. With
 * `rmapLocked` (file only) the walks run with `i_mmap_rwsem` held by the caller
 * (TTU_RMAP_LOCKED, `rmap_walk_locked`). Returns what must not depend on the path taken.
 */
function unmapAndRestore(
  fast: boolean,
  footprints: boolean,
  twoCpus = false,
  backing: Backing = 'anon',
  rmapLocked = false,
) {
  rmapUncontended.enabled = fast;
  const { rt, mem, vmstat, locks, vm } = machine(footprints);
  const p: MmView = vm.createProcess('p');
  const file =
    backing === 'file'
      ? vm.createFile('data', { content: Array.from({ length: PAGES }, (_, i) => 50 + i) })
      : undefined;
  const addr =
    file === undefined
      ? vm.mmap(p, { length: PAGES * PAGE_SIZE })
      : vm.mmap(p, { length: PAGES * PAGE_SIZE, flags: MAP_SHARED, file });
  // A task of the process on CPU 1 first: the mm stays in its cpumask (lazily), so
  // TTU_BATCH_FLUSH defers the flushes to the migrator's batch.
  if (twoCpus) {
    rt.spawn('user1', 1, function* (): KernelGen {
      yield* vm.userRead(p, addr);
    });
  }
  const walks0 = rmapUncontended.walks;
  const seen = {
    clockUnmapped: 0,
    mappedAfterUnmap: [] as boolean[],
    ptesUnmapped: [] as number[],
  };
  let lockIds: number[] = [];
  rt.spawn('migrator', 0, function* (): KernelGen {
    for (let i = 0; i < PAGES; i++) yield* vm.userWrite(p, addr + i * PAGE_SIZE, 100 + i);
    const folios: Folio[] = [];
    for (let i = 0; i < PAGES; i++)
      folios.push(pfnFolio(mem, vm.followPage(p, addr + i * PAGE_SIZE)));
    const table = mutableMm(p).pageTables.get(pmdIndexOf(addr)) as PageTable;
    const sem =
      file === undefined
        ? mutableAnonVma(vm.folioAnonVma(folios[0]!)!).rwsem
        : mutableAddressSpace(file).iMmapRwsem;
    lockIds = [sem.objectId, table.ptl.objectId];
    if (rmapLocked) yield* sem.downRead('test');
    for (const f of folios) {
      folioGet(mem, f);
      yield* locks.folioLock(f, 'test');
      yield* vm.tryToMigrate(f, TTU_BATCH_FLUSH | (rmapLocked ? TTU_RMAP_LOCKED : 0));
      seen.mappedAfterUnmap.push(vm.folioMapped(f));
    }
    for (let i = 0; i < PAGES; i++) seen.ptesUnmapped.push(table.get(addr / PAGE_SIZE + i));
    vm.tryToUnmapFlush();
    seen.clockUnmapped = rt.cpus[0]!.clock;
    for (const f of folios) {
      yield* vm.removeMigrationPtes(f, f, rmapLocked);
      locks.folioUnlock(f);
      folioPut(mem, f);
    }
    if (rmapLocked) sem.upRead();
  });
  const result = rt.run();
  const log = rt.footprints;
  return {
    outcome: {
      status: result.status,
      ...seen,
      clockEnd: rt.cpus[0]!.clock,
      vmstat: vmstat.entries(),
      tlb: { ...vm.tlbStats, ipisReceived: [...vm.tlbStats.ipisReceived] },
      pages: Array.from({ length: PAGES }, (_, i) => vm.followPage(p, addr + i * PAGE_SIZE)),
      problems: vm.check(),
    },
    walks: rmapUncontended.walks - walks0,
    footprint: log === null ? null : { objects: [...log.objects], writes: [...log.writes] },
    lockIds,
  };
}

describe('the uncontended rmap walks (plain calls) against the general walks (generators)', () => {
  afterEach(() => {
    rmapUncontended.enabled = true;
  });

  it('give the same PTEs, counters, TLB statistics and CPU clock, with or without footprints', () => {
    for (const footprints of [false, true]) {
      const fast = unmapAndRestore(true, footprints);
      const general = unmapAndRestore(false, footprints);
      expect(fast.walks).toBe(2 * PAGES);
      expect(general.walks).toBe(0);
      expect(fast.outcome.status).toBe('completed');
      expect(fast.outcome.mappedAfterUnmap).toEqual(Array(PAGES).fill(false));
      expect(fast.outcome.problems).toEqual([]);
      // The lock round trips are charged even where the fast walk does not take the locks.
      expect(fast.outcome).toEqual(general.outcome);
    }
  });

  it('give the same for page-cache folios of a shared file mapping (rmap_walk_file), rmap locked or not', () => {
    for (const footprints of [false, true]) {
      for (const rmapLocked of [false, true]) {
        const fast = unmapAndRestore(true, footprints, false, 'file', rmapLocked);
        const general = unmapAndRestore(false, footprints, false, 'file', rmapLocked);
        expect(fast.walks).toBe(2 * PAGES);
        expect(general.walks).toBe(0);
        expect(fast.outcome.status).toBe('completed');
        expect(fast.outcome.mappedAfterUnmap).toEqual(Array(PAGES).fill(false));
        // The written pages are dirty: the migration entries carry it back.
        expect(fast.outcome.ptesUnmapped.every((e) => e !== 0)).toBe(true);
        expect(fast.outcome.problems).toEqual([]);
        expect(fast.outcome).toEqual(general.outcome);
        expect(fast.footprint).toEqual(general.footprint);
      }
    }
  });

  it('leave a file mapped by two VMAs, or an unlocked page-cache folio, to the general walk', () => {
    const { rt, mem, locks, vm } = machine(false);
    const file = vm.createFile('data', { content: [1] });
    const a: MmView = vm.createProcess('a');
    const b: MmView = vm.createProcess('b');
    const addrA = vm.mmap(a, { length: PAGE_SIZE, flags: MAP_SHARED, file });
    const addrB = vm.mmap(b, { length: PAGE_SIZE, flags: MAP_SHARED, file });
    const walks0 = rmapUncontended.walks;
    let unlockedError = '';
    rt.spawn('t', 0, function* (): KernelGen {
      yield* vm.userRead(a, addrA);
      yield* vm.userRead(b, addrB);
      const f = pfnFolio(mem, vm.followPage(a, addrA));
      folioGet(mem, f);
      // rmap_walk_file's VM_BUG_ON of an unlocked folio, reported by the general walk.
      try {
        yield* vm.removeMigrationPtes(f, f, false);
      } catch (e) {
        unlockedError = (e as Error).message;
      }
      yield* locks.folioLock(f, 'test');
      yield* vm.tryToMigrate(f, 0);
      expect(vm.folioMapped(f)).toBe(false);
      yield* vm.removeMigrationPtes(f, f, false);
      expect(vm.followPage(a, addrA)).toBe(f);
      expect(vm.followPage(b, addrB)).toBe(f);
      locks.folioUnlock(f);
      folioPut(mem, f);
    });
    expect(rt.run().status).toBe('completed');
    expect(unlockedError).toMatch(/must be locked/);
    expect(rmapUncontended.walks - walks0).toBe(0);
    expect(vm.check()).toEqual([]);
  });

  it('defer the flushes to the same batch when another CPU has the mm loaded', () => {
    const fast = unmapAndRestore(true, false, true);
    const general = unmapAndRestore(false, false, true);
    expect(fast.walks).toBe(2 * PAGES);
    expect(fast.outcome.tlb.deferredFlushes).toBe(PAGES);
    expect(fast.outcome.tlb.batchFlushes).toBe(1);
    expect(fast.outcome).toEqual(general.outcome);
  });

  it('touch the anon_vma rwsem and the PTE lock as the general walk does when footprints are recorded', () => {
    const fast = unmapAndRestore(true, true);
    const general = unmapAndRestore(false, true);
    const touches = (run: typeof fast, id: number) =>
      run.footprint!.objects.filter((o) => o === id).length;
    for (const id of fast.lockIds) {
      // Down and up of each walk, for every folio, both ways.
      expect(touches(fast, id)).toBeGreaterThanOrEqual(4 * PAGES);
      expect(touches(fast, id)).toBe(touches(general, id));
    }
    expect(fast.footprint).toEqual(general.footprint);
  });

  it('find the sole VMA of an anon_vma whose last linked chain went away (fork, child exit)', () => {
    const { rt, mem, locks, vm } = machine(false);
    const parent: MmView = vm.createProcess('parent');
    const addr = vm.mmap(parent, { length: PAGE_SIZE });
    const walks0 = rmapUncontended.walks;
    rt.spawn('t', 0, function* (): KernelGen {
      yield* vm.userWrite(parent, addr, 7);
      // The child's VMA is chained into the parent's anon_vma last; its exit unlinks it.
      const child = yield* vm.fork(parent, 'child');
      yield* vm.exit(child);
      const f = pfnFolio(mem, vm.followPage(parent, addr));
      const av = mutableAnonVma(vm.folioAnonVma(f)!);
      expect(av.rbRoot.size).toBe(1);
      folioGet(mem, f);
      yield* locks.folioLock(f, 'test');
      yield* vm.tryToMigrate(f, 0);
      // The walk went to the parent's VMA: its PTE is now a migration entry.
      expect(vm.folioMapped(f)).toBe(false);
      yield* vm.removeMigrationPtes(f, f, false);
      expect(vm.followPage(parent, addr)).toBe(f);
      locks.folioUnlock(f);
      folioPut(mem, f);
    });
    expect(rt.run().status).toBe('completed');
    expect(rmapUncontended.walks - walks0).toBe(2);
    expect(vm.check()).toEqual([]);
  });
});

describe('the per-task unmap batches', () => {
  it('keep each task its own batch when two tasks defer and flush in turn', () => {
    const { rt, mem, locks, vm } = machine(false);
    const p: MmView = vm.createProcess('p');
    const addr = vm.mmap(p, { length: 2 * PAGE_SIZE });
    const events: string[] = [];
    const batches: Record<string, unknown> = {};
    const done = {
      aDeferred: new Completion(rt, 'a deferred'),
      bDeferred: new Completion(rt, 'b deferred'),
      aFlushed: new Completion(rt, 'a flushed'),
      bFlushed: new Completion(rt, 'b flushed'),
    };
    rt.spawn('user1', 1, function* (): KernelGen {
      yield* vm.userWrite(p, addr, 1);
      yield* vm.userWrite(p, addr + PAGE_SIZE, 2);
    });
    const pending = () => vm.tlbBatch().flushRequired;
    function* unmap(name: string, page: number): KernelGen<Folio> {
      const f = pfnFolio(mem, vm.followPage(p, addr + page * PAGE_SIZE));
      folioGet(mem, f);
      yield* locks.folioLock(f, name);
      yield* vm.tryToMigrate(f, TTU_BATCH_FLUSH);
      batches[name] = vm.tlbBatch();
      events.push(`${name} deferred: ${pending()}`);
      return f;
    }
    function* restore(f: Folio): KernelGen {
      yield* vm.removeMigrationPtes(f, f, false);
      locks.folioUnlock(f);
      folioPut(mem, f);
    }
    rt.spawn('a', 0, function* (): KernelGen {
      const f = yield* unmap('a', 0);
      done.aDeferred.complete();
      yield* done.bDeferred.wait();
      vm.tryToUnmapFlush();
      events.push(`a flushed: ${pending()}`);
      done.aFlushed.complete();
      yield* done.bFlushed.wait();
      events.push(`a after b's flush: ${pending()}`);
      yield* restore(f);
    });
    rt.spawn('b', 0, function* (): KernelGen {
      yield* done.aDeferred.wait();
      const f = yield* unmap('b', 1);
      done.bDeferred.complete();
      yield* done.aFlushed.wait();
      events.push(`b after a's flush: ${pending()}`);
      vm.tryToUnmapFlush();
      events.push(`b flushed: ${pending()}`);
      done.bFlushed.complete();
      yield* restore(f);
    });
    expect(rt.run().status).toBe('completed');
    expect(batches.a).not.toBe(batches.b);
    expect(events).toEqual([
      'a deferred: true',
      'b deferred: true',
      'a flushed: false',
      "b after a's flush: true",
      'b flushed: false',
      "a after b's flush: false",
    ]);
    expect(vm.tlbStats.batchFlushes).toBe(2);
    expect(vm.check()).toEqual([]);
  });
});

describe('PageTableMap', () => {
  it('lookup gives what get gives after tables are replaced, deleted and cleared', () => {
    const { rt } = machine(false);
    const map = new PageTableMap();
    const a = new PageTable(rt, 't', 3);
    const b = new PageTable(rt, 't', 3);
    map.set(3, a);
    expect(map.lookup(3)).toBe(a);
    expect(map.lookup(3)).toBe(a);
    // munmap frees the table, a later fault makes a new one at the same index.
    map.delete(3);
    expect(map.lookup(3)).toBeUndefined();
    map.set(3, b);
    expect(map.lookup(3)).toBe(b);
    map.set(3, a);
    expect(map.lookup(3)).toBe(a);
    map.clear();
    expect(map.lookup(3)).toBeUndefined();
    expect(map.lookup(4)).toBeUndefined();
  });
});

describe('pteIndexOfVpn', () => {
  it('is vpn % 512 across the user address space, above 2^31 and 2^32 included', () => {
    const vpns = [0, 1, 511, 512, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 777, 2 ** 32 + 5, 2 ** 35 + 513];
    for (let i = 0; i < 200; i++) vpns.push(Math.floor(((i * 2654435761) % 2 ** 32) * 2 ** 3.5));
    vpns.push(2 ** 36 - 1); // the last page below 2^48
    for (const vpn of vpns) expect(pteIndexOfVpn(vpn)).toBe(vpn % 512);
  });
});
