import {
  checkPhysicalMemory,
  createPhysicalMemory,
  type Folio,
  FolioList,
  folioGet,
  folioNrPages,
  folioPut,
  folioRefCount,
  folioTestFlag,
  PG_locked,
  type PhysicalMemory,
  pfnFolio,
  pfnValid,
  setPageContent,
} from '@mmsim/folio';
import { LruVecs } from '@mmsim/lru';
import { PageLockTable } from '@mmsim/page-lock';
import {
  type AddressSpace,
  MAP_ANONYMOUS,
  MAP_SHARED,
  type Mm,
  PAGE_SIZE,
  type Rmap,
  type TlbBatch,
  VirtualMemory,
} from '@mmsim/rmap';
import {
  type Completion,
  type KernelGen,
  NodeStat,
  type RunResult,
  Runtime,
  type StrategySpec,
  type Task,
  VmStat,
} from '@mmsim/runtime';
import { expect } from 'vitest';
import {
  formatMigrateEvent,
  MigrateCore,
  type MigrateMode,
  type MigratePagesResult,
  type MigrateReason,
  type MigrateVariant,
  type MigrationTargetControl,
  type NewFolioFn,
  type VariantName,
} from '../src/index.js';

/**
 * A reusable test machine: a runtime, folio memory, page locks, LRU vecs, rmap's
 * VirtualMemory, vmstat and a MigrateCore, wired together as `@mmsim/kernel` will, with
 * helpers to create processes, touch pages, isolate them as move_pages(2) does and run a
 * migration in a task.
 */

export interface MachineOptions {
  /** Base pages per node; default two nodes of 8192. */
  readonly nodes?: readonly number[];
  /** Hugetlb pages reserved per node; default none. */
  readonly hugetlbPages?: readonly number[];
  /** Node of each CPU; default 8 CPUs alternating between the nodes. */
  readonly cpuNodes?: readonly number[];
  readonly strategy?: StrategySpec;
  readonly seed?: number;
  readonly variant?: VariantName | MigrateVariant;
  readonly thpMigrationSupported?: boolean;
  readonly hugepageMigrationSupported?: boolean;
  readonly dependencyChecking?: boolean;
  /** Wraps the VirtualMemory handed to the core as its `Rmap` (to spy on calls). */
  readonly wrapRmap?: (vm: VirtualMemory) => Rmap;
  /** Wraps the VirtualMemory handed to the core as its `TlbBatch`. */
  readonly wrapTlb?: (vm: VirtualMemory) => TlbBatch;
  readonly invalidateBhLrus?: () => void;
}

export interface Machine {
  readonly rt: Runtime;
  readonly mem: PhysicalMemory;
  readonly vmstat: VmStat;
  readonly locks: PageLockTable;
  readonly lru: LruVecs;
  readonly vm: VirtualMemory;
  readonly core: MigrateCore;
}

export function buildMachine(options: MachineOptions = {}): Machine {
  const nodes = options.nodes ?? [8192, 8192];
  const cpuNodes = options.cpuNodes ?? Array.from({ length: 8 }, (_, i) => i % nodes.length);
  const rt = new Runtime({
    cpus: cpuNodes.length,
    cpuNodes: [...cpuNodes],
    strategy: options.strategy ?? 'in-order',
    seed: options.seed ?? 1,
  });
  const mem = createPhysicalMemory({
    nodes: nodes.map((pages, i) => ({ pages, hugetlbPages: options.hugetlbPages?.[i] ?? 0 })),
  });
  const vmstat = new VmStat(nodes.length);
  const locks = new PageLockTable(rt, mem, {
    dependencyChecking: options.dependencyChecking ?? false,
  });
  const lru = new LruVecs(rt, mem, vmstat);
  const vm = new VirtualMemory(rt, mem, locks, vmstat, { lru, zeroPage: false });
  const core = new MigrateCore({
    rt,
    mem,
    vmstat,
    locks,
    lru,
    rmap: options.wrapRmap?.(vm) ?? vm,
    tlb: options.wrapTlb?.(vm) ?? vm,
    ...(options.invalidateBhLrus === undefined
      ? {}
      : { invalidateBhLrus: options.invalidateBhLrus }),
    ...(options.variant === undefined ? {} : { variant: options.variant }),
    ...(options.hugepageMigrationSupported === undefined
      ? {}
      : { hugepageMigrationSupported: options.hugepageMigrationSupported }),
    ...(options.thpMigrationSupported === undefined
      ? {}
      : { thpMigrationSupported: options.thpMigrationSupported }),
  });
  return { rt, mem, vmstat, locks, lru, vm, core };
}

/** A private anonymous mapping of `pages` pages (`hugepage`: MADV_HUGEPAGE). */
export function mapAnon(m: Machine, mm: Mm, pages: number, hugepage = false): number {
  return m.vm.mmap(mm, { length: pages * PAGE_SIZE, hugepage });
}

/** Writes `value(i)` to page i of the range (first touch allocates). */
export function* writePages(
  m: Machine,
  mm: Mm,
  addr: number,
  pages: number,
  value: (i: number) => number,
): KernelGen {
  for (let i = 0; i < pages; i++) yield* m.vm.userWrite(mm, addr + i * PAGE_SIZE, value(i));
}

/** The distinct folios mapping pages [addr, addr + pages), in address order. */
export function foliosOf(m: Machine, mm: Mm, addr: number, pages: number): Folio[] {
  const out: Folio[] = [];
  for (let i = 0; i < pages; i++) {
    const folio = pfnFolio(m.mem, m.vm.followPage(mm, addr + i * PAGE_SIZE));
    if (out[out.length - 1] !== folio) out.push(folio);
  }
  return out;
}

/**
 * Isolates folios as move_pages(2)'s `add_page_for_migration` does: drain the per-CPU LRU
 * batches, then for each folio take a lookup reference, `folio_isolate_lru`, add it to the
 * tail of `list`, account NR_ISOLATED in base pages, drop the lookup reference. Returns
 * how many were isolated.
 */
export function* isolateFolios(
  m: Machine,
  folios: readonly Folio[],
  list: FolioList,
): KernelGen<number> {
  yield* m.lru.lruAddDrainAll();
  let n = 0;
  for (const folio of folios) {
    folioGet(m.mem, folio);
    if (yield* m.lru.folioIsolateLru(folio)) {
      list.addTail(folio);
      m.lru.nodeStatModFolio(folio, m.lru.folioIsolatedItem(folio), folioNrPages(m.mem, folio));
      n++;
    }
    folioPut(m.mem, folio);
  }
  return n;
}

/** `migrate_pages(list, alloc_migration_target, NULL, {nid, __GFP_THISNODE}, mode, reason)`. */
export function migrateToNode(
  m: Machine,
  list: FolioList,
  nid: number,
  mode: MigrateMode,
  reason: MigrateReason,
): KernelGen<MigratePagesResult> {
  return m.core.migratePages(
    list,
    m.core.allocMigrationTarget,
    null,
    { nid, thisNode: true },
    mode,
    reason,
  );
}

/** Spawns `body` as a task on `cpu`. */
export function spawn(m: Machine, name: string, cpu: number, body: () => KernelGen<unknown>): Task {
  return m.rt.spawn(name, cpu, body);
}

/** Runs the machine and expects every task to complete. */
export function runAll(m: Machine): RunResult {
  const result = m.rt.run();
  if (result.status !== 'completed') {
    throw new Error(`run ended ${result.status}: ${JSON.stringify(result.deadlock, null, 1)}`);
  }
  return result;
}

/** A fresh empty isolation list. */
export function newList(m: Machine): FolioList {
  return new FolioList(m.mem);
}

/** NR_ISOLATED_ANON + NR_ISOLATED_FILE over every node. */
export function nrIsolated(m: Machine): number {
  return (
    m.vmstat.globalNodePageState(NodeStat.NR_ISOLATED_ANON) +
    m.vmstat.globalNodePageState(NodeStat.NR_ISOLATED_FILE)
  );
}

/** Every folio that is locked now. */
export function lockedFolios(m: Machine): Folio[] {
  const out: Folio[] = [];
  for (let pfn = 0; pfn < m.mem.maxPfn; pfn++) {
    if (!pfnValid(m.mem, pfn) || pfnFolio(m.mem, pfn) !== pfn) continue;
    if (folioTestFlag(m.mem, pfn, PG_locked)) out.push(pfn);
  }
  return out;
}

/**
 * The machine at rest is sound: rmap (mappings, refcounts against mappings and cache, no
 * migration entry to an unlocked folio, TLBs agree, no flush pending), LRU lists, the
 * memmap, no folio locked (so no migration entry at all), NR_ISOLATED back to 0.
 */
export function expectQuiescent(m: Machine): void {
  expect(m.vm.check({ quiescent: true })).toEqual([]);
  expect(m.lru.view.check()).toEqual([]);
  expect(checkPhysicalMemory(m.mem)).toEqual([]);
  expect(lockedFolios(m)).toEqual([]);
  expect(nrIsolated(m)).toBe(0);
}

/** The refcount of each folio. */
export function refcounts(m: Machine, folios: readonly Folio[]): number[] {
  return folios.map((f) => folioRefCount(m.mem, f));
}

/**
 * A hugetlbfs page-cache folio: a hugetlb folio from node `nid`'s pool (active and
 * migratable), cached at `index` of `file` (the cache holds its one reference), its 512
 * content words set to `base + i`. Returns the folio.
 */
export function hugetlbfsFolio(
  m: Machine,
  file: AddressSpace,
  index: number,
  nid: number,
  base: number,
): Folio {
  const folio = m.core.hugetlbAllocActive(nid, { thisNode: true });
  if (folio < 0) throw new Error('no hugetlb page');
  m.vm.hugetlbAddToPageCache(file, folio, index);
  for (let i = 0; i < folioNrPages(m.mem, folio); i++) setPageContent(m.mem, folio + i, base + i);
  return folio;
}

/** Collects the ftrace text of the migrate tracepoints. */
export function traceLines(m: Machine): string[] {
  const lines: string[] = [];
  for (const name of ['mm_migrate_pages_start', 'mm_migrate_pages']) {
    m.rt.trace.on(name, (e) => {
      lines.push(`${e.name}: ${formatMigrateEvent(e)}`);
    });
  }
  return lines;
}

/** Counts of the Rmap calls the core made, per folio. */
export interface RmapSpy {
  readonly tryToMigrate: Map<Folio, number>;
  readonly tryToMigrateFlags: number[];
  readonly removeMigrationPtes: Array<[Folio, Folio]>;
}

/** An `Rmap` that forwards to `vm` and records the migration calls into `spy`. */
export function spyingRmap(vm: VirtualMemory, spy: RmapSpy): Rmap {
  return {
    tryToMigrate(folio, flags) {
      spy.tryToMigrate.set(folio, (spy.tryToMigrate.get(folio) ?? 0) + 1);
      spy.tryToMigrateFlags.push(flags);
      return vm.tryToMigrate(folio, flags);
    },
    removeMigrationPtes(src, dst, locked) {
      spy.removeMigrationPtes.push([src, dst]);
      return vm.removeMigrationPtes(src, dst, locked);
    },
    rmapWalk: (folio, rwc) => vm.rmapWalk(folio, rwc),
    rmapWalkLocked: (folio, rwc) => vm.rmapWalkLocked(folio, rwc),
    folioGetAnonVma: (folio) => vm.folioGetAnonVma(folio),
    putAnonVma: (av) => vm.putAnonVma(av),
    folioAnonVma: (folio) => vm.folioAnonVma(folio),
    folioMapped: (folio) => vm.folioMapped(folio),
    folioMapcount: (folio) => vm.folioMapcount(folio),
  };
}

export function newSpy(): RmapSpy {
  return { tryToMigrate: new Map(), tryToMigrateFlags: [], removeMigrationPtes: [] };
}

/** An allocation callback that records every call and then asks `allocMigrationTarget`. */
export function countingAlloc(m: Machine): {
  readonly fn: NewFolioFn<MigrationTargetControl>;
  readonly calls: Folio[];
  readonly dsts: Folio[];
} {
  const calls: Folio[] = [];
  const dsts: Folio[] = [];
  const fn: NewFolioFn<MigrationTargetControl> = (src, mtc) => {
    calls.push(src);
    const dst = m.core.allocMigrationTarget(src, mtc);
    if (dst !== null) dsts.push(dst);
    return dst;
  };
  return { fn, calls, dsts };
}

/**
 * A process with `pages` anonymous pages written with `value(i)` (on the node of CPU 0),
 * all of them isolated on a new list. Run it inside a task.
 */
export function* anonIsolated(
  m: Machine,
  pages: number,
  value: (i: number) => number = (i) => 100 + i,
): KernelGen<{ mm: Mm; addr: number; folios: Folio[]; list: FolioList }> {
  const mm = m.vm.createProcess(`p${m.vm.processes.length}`);
  const addr = mapAnon(m, mm, pages);
  yield* writePages(m, mm, addr, pages, value);
  const folios = foliosOf(m, mm, addr, pages);
  const list = newList(m);
  yield* isolateFolios(m, folios, list);
  return { mm, addr, folios, list };
}

/**
 * A task on `cpu` that, once `ready` completes, locks `folio()`, completes `locked`, keeps
 * the lock for `ns` of virtual time, then unlocks.
 */
export function lockHolder(
  m: Machine,
  cpu: number,
  folio: () => Folio,
  ready: Completion,
  locked: Completion,
  ns: number,
): Task {
  return spawn(m, 'holder', cpu, function* () {
    yield* ready.wait();
    const f = folio();
    yield* m.locks.folioLock(f, 'holder');
    locked.complete();
    yield* m.rt.sleepFor(ns);
    m.locks.folioUnlock(f);
  });
}

/**
 * A task on `cpu` that, once `ready` completes, starts writeback on `folio()` (under its
 * lock, as a filesystem does), completes `started`, and ends the writeback `ns` later, as
 * I/O completion does.
 */
export function writebackIo(
  m: Machine,
  cpu: number,
  folio: () => Folio,
  ready: Completion,
  started: Completion,
  ns: number,
): Task {
  return spawn(m, 'io', cpu, function* () {
    yield* ready.wait();
    const f = folio();
    yield* m.locks.folioLock(f, 'writepages');
    m.locks.folioStartWriteback(f, 'writepages');
    m.locks.folioUnlock(f);
    started.complete();
    yield* m.rt.sleepFor(ns);
    m.locks.folioEndWriteback(f);
  });
}

/**
 * A file of `pages` pages whose page-cache folios are read (or written, `dirty`) through a
 * shared mapping of a new process, then unmapped unless `keepMapped`, and isolated on a
 * new list. `shmem` makes it a MAP_SHARED | MAP_ANONYMOUS mapping instead of a file.
 */
export function* pageCacheIsolated(
  m: Machine,
  pages: number,
  options: { dirty?: boolean; keepMapped?: boolean; shmem?: boolean; base?: number } = {},
): KernelGen<{ file: AddressSpace; mm: Mm; addr: number; folios: Folio[]; list: FolioList }> {
  const vm = m.vm;
  const base = options.base ?? 500;
  const mm = vm.createProcess(`fp${vm.processes.length}`);
  let addr: number;
  let file: AddressSpace;
  if (options.shmem === true) {
    addr = vm.mmap(mm, { length: pages * PAGE_SIZE, flags: MAP_SHARED | MAP_ANONYMOUS });
    file = mm.vmas[mm.vmas.length - 1]!.file!;
  } else {
    file = vm.createFile(`file${vm.processes.length}`, {
      content: Array.from({ length: pages }, (_, i) => base + i),
    });
    addr = vm.mmap(mm, { length: pages * PAGE_SIZE, flags: MAP_SHARED, file });
  }
  for (let i = 0; i < pages; i++) {
    if (options.dirty === true || options.shmem === true) {
      yield* vm.userWrite(mm, addr + i * PAGE_SIZE, base + i);
    } else {
      yield* vm.userRead(mm, addr + i * PAGE_SIZE);
    }
  }
  const folios = foliosOf(m, mm, addr, pages);
  // (An anonymous shmem file goes away with its last mapping: it stays mapped.)
  if (options.keepMapped !== true && options.shmem !== true) {
    yield* vm.munmap(mm, addr, pages * PAGE_SIZE);
  }
  const list = newList(m);
  yield* isolateFolios(m, folios, list);
  return { file, mm, addr, folios, list };
}
