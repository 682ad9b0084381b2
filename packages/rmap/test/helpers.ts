import {
  type Folio,
  folioAlloc,
  folioClearFlag,
  folioCopyContents,
  folioGet,
  folioIndex,
  folioNid,
  folioNrPages,
  folioOrder,
  folioPut,
  folioRawMapping,
  folioRefAdd,
  folioRefCount,
  folioRefSub,
  folioSetFlag,
  folioSetIndex,
  folioSetMapping,
  folioTestAnon,
  folioTestFlag,
  PAGE_MAPPING_ANON,
  PG_dirty,
  PG_swapbacked,
  PG_uptodate,
} from '@mmsim/folio';
import { EAGAIN, type KernelGen, NodeStat } from '@mmsim/runtime';
import { expect } from 'vitest';
import { folioAddressSpace, PAGE_SIZE, TTU_BATCH_FLUSH } from '../src/index.js';
import { mutableAddressSpace, rmapStateOf } from '../src/internal.js';
import {
  createRmapMachine,
  type RmapMachine as Machine,
  runAndCheck,
} from '../src/testing/index.js';

/*
 * The rmap tests' stand-in migration (with the bug they look for). The machine and the
 * run checks come from this package's `./test` subpath (src/testing).
 */

export interface MigrateOptions {
  /** Node of the new folio; default the other node. */
  readonly node?: number;
  /** try_to_migrate flags; default TTU_BATCH_FLUSH, as an async migration batch. */
  readonly flags?: number;
  /**
   * The bug this package's tests look for: copy the contents *before* the batched TLB flush.
   * Only this test helper can do it; the model's code never does.
   */
  readonly copyBeforeFlush?: boolean;
  /** Called between unmap and move (the folio is unmapped and locked). */
  readonly whileUnmapped?: (src: Folio) => void;
  /**
   * Called once the move succeeded, just before remove_migration_ptes(src, dst): dst is in
   * src's place (page cache, mapping, index), src has lost its mapping, both are locked.
   */
  readonly beforeRemove?: (src: Folio, dst: Folio) => void;
  /** Run between unmap and move, with scheduling points of its own. */
  readonly pause?: (src: Folio) => KernelGen;
}

/**
 * A test stand-in for one folio's migration (migrate_folio_unmap + migrate_folio_move of
 * mm/migrate.c, 6.3, reduced to what the rmap side needs): an isolation reference, the
 * folio lock, folio_get_anon_vma, a locked destination, try_to_migrate, the batched TLB
 * flush, the copy, folio_migrate_mapping's move of mapping / index / page-cache slot and
 * references under the expected-refcount check, remove_migration_ptes, unlock and put.
 * Returns the new folio, or -EAGAIN (the mappings restored) when the folio stayed mapped
 * or someone held an extra reference.
 */
export function* migrateFolio(
  m: Machine,
  src: Folio,
  options: MigrateOptions = {},
): KernelGen<number> {
  const { mem, vm, locks } = m;
  folioGet(mem, src);
  yield* locks.folioLock(src, 'migrate_folio_unmap');
  const anon = folioTestAnon(mem, src);
  const anonVma = anon ? vm.folioGetAnonVma(src) : null;
  const nid = options.node ?? (folioNid(mem, src) + 1) % mem.nrNodes;
  const dst = folioAlloc(mem, folioOrder(mem, src), nid, { thisNode: true });
  if (dst < 0) throw new Error('no memory for dst');
  folioSetFlag(mem, dst, PG_uptodate);
  expect(locks.folioTrylock(dst, 'migrate_folio_unmap')).toBe(true);
  const wasMapped = vm.folioMapped(src);
  if (wasMapped) yield* vm.tryToMigrate(src, options.flags ?? TTU_BATCH_FLUSH);
  const fail = function* (): KernelGen<number> {
    vm.tryToUnmapFlush();
    if (wasMapped) yield* vm.removeMigrationPtes(src, src, false);
    locks.folioUnlock(dst);
    folioPut(mem, dst);
    locks.folioUnlock(src);
    if (anonVma !== null) vm.putAnonVma(anonVma);
    folioPut(mem, src);
    return -EAGAIN;
  };
  if (vm.folioMapped(src)) return yield* fail();
  options.whileUnmapped?.(src);
  if (options.pause !== undefined) yield* options.pause(src);
  yield;
  if (options.copyBeforeFlush === true) {
    folioCopyContents(mem, dst, src);
    yield;
    vm.tryToUnmapFlush();
  } else {
    vm.tryToUnmapFlush();
    yield;
    folioCopyContents(mem, dst, src);
  }
  yield;
  const nr = folioNrPages(mem, src);
  const as = anon ? null : folioAddressSpace(mem, src);
  const expected = 1 + (as === null ? 0 : nr);
  if (folioRefCount(mem, src) !== expected) return yield* fail();
  folioSetIndex(mem, dst, folioIndex(mem, src));
  if (anon) {
    folioSetMapping(mem, dst, PAGE_MAPPING_ANON, folioRawMapping(mem, src)!);
    folioSetFlag(mem, dst, PG_swapbacked);
    if (folioTestFlag(mem, src, PG_dirty)) folioSetFlag(mem, dst, PG_dirty);
  } else if (as !== null) {
    folioSetMapping(mem, dst, 0, as);
    if (folioTestFlag(mem, src, PG_swapbacked)) folioSetFlag(mem, dst, PG_swapbacked);
    mutableAddressSpace(as).replaceFolio(src, dst, folioIndex(mem, src), nr);
    folioRefAdd(mem, dst, nr);
    folioRefSub(mem, src, nr);
    const from = folioNid(mem, src);
    const to = folioNid(mem, dst);
    m.vmstat.modNodePageState(from, NodeStat.NR_FILE_PAGES, -nr);
    m.vmstat.modNodePageState(to, NodeStat.NR_FILE_PAGES, nr);
    if (as.shmem) {
      m.vmstat.modNodePageState(from, NodeStat.NR_SHMEM, -nr);
      m.vmstat.modNodePageState(to, NodeStat.NR_SHMEM, nr);
    }
    if (folioTestFlag(mem, src, PG_dirty)) {
      folioClearFlag(mem, src, PG_dirty);
      folioSetFlag(mem, dst, PG_dirty);
      m.vmstat.modNodePageState(from, NodeStat.NR_DIRTY, -nr);
      m.vmstat.modNodePageState(to, NodeStat.NR_DIRTY, nr);
    }
    folioSetMapping(mem, src, 0, null);
  }
  options.beforeRemove?.(src, dst);
  if (wasMapped) yield* vm.removeMigrationPtes(src, dst, false);
  locks.folioUnlock(dst);
  folioPut(mem, dst);
  locks.folioUnlock(src);
  if (anonVma !== null) vm.putAnonVma(anonVma);
  folioPut(mem, src);
  return dst;
}

/**
 * The user-access tests' program: two threads (CPUs 1 and 2) each make `accesses` accesses
 * over `pages` pages from `addr` (every third a store of `cpu * 1000 + n`, the rest loads
 * whose values go to `seen`, strided by `cpu + 2` pages), while a migrator on CPU 0 moves
 * every mapped page three times (`migrateFolio`), so that accesses wait on migration entries.
 */
export function spawnAccessorsAndMigrator(
  m: Machine,
  p: Parameters<Machine['vm']['presentPfnAt']>[0],
  addr: number,
  pages: number,
  accesses: number,
  load: (at: number) => KernelGen<number>,
  store: (at: number, value: number) => KernelGen,
  seen: number[],
): void {
  const { rt, vm, mem } = m;
  for (const cpu of [1, 2]) {
    rt.spawn(`user${cpu}`, cpu, function* (): KernelGen {
      for (let n = 0; n < accesses; n++) {
        const at = addr + ((n * (cpu + 2)) % pages) * PAGE_SIZE;
        if ((n + cpu) % 3 === 0) yield* store(at, cpu * 1000 + n);
        else seen.push(yield* load(at));
        yield;
      }
    });
  }
  rt.spawn('migrator', 0, function* (): KernelGen {
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < pages; i++) {
        const pfn = vm.presentPfnAt(p, addr + i * PAGE_SIZE);
        if (pfn < 0 || pfn === mem.zeroPfn) continue;
        yield* migrateFolio(m, pfn);
        yield;
      }
    }
  });
}

/** How a plain-path test reaches user memory: through the generators, or the plain calls first. */
export type AccessHow = 'generator' | 'plain';

/**
 * A load and a store for `spawnAccessorsAndMigrator` over process `p`: with `how` `plain`
 * they try `userReadPlain` / `userWritePlain` first and count in `counts` which path each
 * access finished on (plain, or the generator it handed over to); with `generator` they
 * are the generator accesses.
 */
export function userAccessors(
  vm: Machine['vm'],
  p: Parameters<Machine['vm']['presentPfnAt']>[0],
  how: AccessHow,
): {
  readonly counts: { plain: number; generator: number };
  load(at: number): KernelGen<number>;
  store(at: number, value: number): KernelGen;
} {
  const counts = { plain: 0, generator: 0 };
  return {
    counts,
    *load(at: number): KernelGen<number> {
      if (how === 'generator') return yield* vm.userRead(p, at);
      const got = vm.userReadPlain(p, at);
      if (typeof got === 'number') {
        counts.plain++;
        return got;
      }
      counts.generator++;
      return yield* got;
    },
    *store(at: number, value: number): KernelGen {
      if (how === 'generator') {
        yield* vm.userWrite(p, at, value);
        return;
      }
      const rest = vm.userWritePlain(p, at, value);
      if (rest === null) counts.plain++;
      else {
        counts.generator++;
        yield* rest;
      }
    },
  };
}

/**
 * A machine on which a task on CPU 0 (node 0 gives the pages) wrote 24 anonymous pages of
 * one mapping, run and checked: one page table for the rmap check to record.
 */
export function writtenAnonMachine(nodes: readonly number[]) {
  const m = createRmapMachine({ nodes });
  const { vm } = m;
  const p = vm.createProcess('p');
  const anon = vm.mmap(p, { length: 24 * PAGE_SIZE });
  m.rt.spawn('main', 0, function* (): KernelGen {
    for (let i = 0; i < 24; i++) yield* vm.userWrite(p, anon + i * PAGE_SIZE, i + 1);
  });
  runAndCheck(m);
  return { m, anon, ctx: rmapStateOf(vm) };
}
