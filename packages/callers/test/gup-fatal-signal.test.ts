import { checkPhysicalMemory, isZoneMovablePage, pfnFolio } from '@mmsim/folio';
import { createKernel, type Kernel, type KernelConfig } from '@mmsim/kernel';
import { type MmView, PAGE_SIZE } from '@mmsim/rmap';
import {
  EINTR,
  FATAL_SIGNAL_SITE,
  type FaultSpec,
  type KernelGen,
  NodeStat,
  PF_KTHREAD,
  type Task,
} from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  FOLL_LONGTERM,
  FOLL_WRITE,
  IB_ACCESS_LOCAL_WRITE,
  ibUmemGet,
  longtermPinStats,
  pinUserPages,
  unpinUserPages,
} from '../src/index.js';

/**
 * `__get_user_pages` (mm/gup.c, 6.3) tests `fatal_signal_pending(current)` before each page
 * (and again after each fault-in) and returns -EINTR, or the pages pinned before it: the
 * fault site `signal.fatal_signal_pending` reaches every user of GUP in the model.
 */
const ALWAYS: Record<string, FaultSpec> = { [FATAL_SIGNAL_SITE]: { probability: 1 } };
/** The SIGKILL arrives at the second check: after the first page is pinned. */
const SECOND: Record<string, FaultSpec> = { [FATAL_SIGNAL_SITE]: { calls: [2] } };

function machine(nodes: KernelConfig['nodes'] = [{ pages: 2048 }]): Kernel {
  return createKernel({ nodes, cpusPerNode: 2, variant: 'v6.3', zeroPage: false });
}

/** Maps and writes `n` pages (present and writable: one GUP check per page), drains the LRU. */
function* fill(k: Kernel, mm: MmView, addr: number, n: number): KernelGen {
  for (let i = 0; i < n; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, 100 + i);
  yield* k.lru.lruAddDrainAll();
}

function pfnsOf(k: Kernel, mm: MmView, addr: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => k.vm.followPage(mm, addr + i * PAGE_SIZE));
}

function pinned(k: Kernel, pfns: readonly number[]): boolean[] {
  return pfns.map((pfn) => k.vm.folioMaybeDmaPinned(pfnFolio(k.mem, pfn)));
}

/** Nothing pinned, isolated, locked or leaked once every task is done. */
function expectClean(k: Kernel): void {
  expect(k.vm.check({ quiescent: true })).toEqual([]);
  expect(checkPhysicalMemory(k.mem)).toEqual([]);
  expect(k.vmstat.nodePageState(0, NodeStat.NR_ISOLATED_ANON)).toBe(0);
}

describe('GUP and a fatal signal (__get_user_pages, mm/gup.c, 6.3)', () => {
  it('pin_user_pages(FOLL_LONGTERM) with a SIGKILL at the first page returns -EINTR and pins nothing', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
    const pages: number[] = [];
    const stats = longtermPinStats();
    let rc: number | null = null;
    let task: Task | null = null;
    k.rt.spawn('driver', 0, function* (t: Task): KernelGen {
      task = t;
      yield* fill(k, mm, addr, 4);
      k.rt.faults.configure(ALWAYS);
      rc = yield* pinUserPages(k, mm, addr, 4, FOLL_LONGTERM | FOLL_WRITE, pages, stats);
    });
    expect(k.run().status).toBe('completed');
    expect(rc).toBe(-EINTR);
    expect(pages).toEqual([]);
    expect(pinned(k, pfnsOf(k, mm, addr, 4))).toEqual([false, false, false, false]);
    expect(k.vmstat.nodePageState(0, NodeStat.NR_FOLL_PIN_ACQUIRED)).toBe(0);
    expect((task as Task | null)?.fatalSignalPending).toBe(true);
    expect(k.rt.fatalSignalSite.injected).toBe(1);
    expect(stats.attempts).toBe(1);
    expect(stats.collected).toBe(0);
    expectClean(k);
  });

  it('a SIGKILL between pages: pin_user_pages returns the pages pinned before it, which stay pinned', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 3 * PAGE_SIZE });
    const pages: number[] = [];
    let rc: number | null = null;
    k.rt.spawn('driver', 0, function* (): KernelGen {
      yield* fill(k, mm, addr, 3);
      k.rt.faults.configure(SECOND);
      rc = yield* pinUserPages(k, mm, addr, 3, FOLL_WRITE, pages);
      expect(pinned(k, pfnsOf(k, mm, addr, 3))).toEqual([true, false, false]);
      yield* unpinUserPages(k, mm, pages);
    });
    expect(k.run().status).toBe('completed');
    expect(rc).toBe(1);
    expect(pages).toEqual(pfnsOf(k, mm, addr, 1));
    expect(k.vmstat.nodePageState(0, NodeStat.NR_FOLL_PIN_ACQUIRED)).toBe(1);
    expect(k.vmstat.nodePageState(0, NodeStat.NR_FOLL_PIN_RELEASED)).toBe(1);
    expectClean(k);
  });

  it('the check runs again after a fault-in: a SIGKILL then gives -EINTR with the page faulted in but not pinned', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: PAGE_SIZE });
    const pages: number[] = [];
    let rc: number | null = null;
    k.rt.spawn('driver', 0, function* (): KernelGen {
      k.rt.faults.configure(SECOND); // the first check passes, the page is faulted in
      rc = yield* pinUserPages(k, mm, addr, 1, FOLL_WRITE, pages);
    });
    expect(k.run().status).toBe('completed');
    expect(rc).toBe(-EINTR);
    expect(k.rt.fatalSignalSite.calls).toBe(2);
    const [pfn] = pfnsOf(k, mm, addr, 1);
    expect(pfn).toBeGreaterThanOrEqual(0);
    expect(pinned(k, [pfn as number])).toEqual([false]);
    expectClean(k);
  });

  it('a partial longterm pin is checked and kept: the ZONE_MOVABLE page pinned before the signal is migrated first', () => {
    const k = machine([{ pages: 2048, movablePages: 1024 }]);
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 3 * PAGE_SIZE });
    const pages: number[] = [];
    const stats = longtermPinStats();
    let rc: number | null = null;
    k.rt.spawn('driver', 0, function* (): KernelGen {
      yield* fill(k, mm, addr, 3);
      expect(pfnsOf(k, mm, addr, 3).every((pfn) => isZoneMovablePage(k.mem, pfn))).toBe(true);
      k.rt.faults.configure(SECOND);
      rc = yield* pinUserPages(k, mm, addr, 3, FOLL_LONGTERM | FOLL_WRITE, pages, stats);
    });
    expect(k.run().status).toBe('completed');
    // Pass 1 pins page 0 (the signal comes at page 1), migrates it and asks for a retry;
    // pass 2 meets the pending signal at page 0: -EINTR, nothing pinned.
    expect(rc).toBe(-EINTR);
    expect(pages).toEqual([]);
    expect(stats.attempts).toBe(2);
    expect(stats.migrated).toBe(1);
    expect(pinned(k, pfnsOf(k, mm, addr, 3))).toEqual([false, false, false]);
    expectClean(k);
  });

  it('ib_umem_get: a SIGKILL after the first page releases the partial pin and returns -EINTR', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 3 * PAGE_SIZE });
    let rc: unknown = null;
    k.rt.spawn('driver', 0, function* (): KernelGen {
      yield* fill(k, mm, addr, 3);
      k.rt.faults.configure(SECOND);
      rc = yield* ibUmemGet(k, mm, addr, 3 * PAGE_SIZE, IB_ACCESS_LOCAL_WRITE);
    });
    expect(k.run().status).toBe('completed');
    expect(rc).toBe(-EINTR);
    expect(pinned(k, pfnsOf(k, mm, addr, 3))).toEqual([false, false, false]);
    expect(k.vmstat.nodePageState(0, NodeStat.NR_FOLL_PIN_ACQUIRED)).toBe(1);
    expect(k.vmstat.nodePageState(0, NodeStat.NR_FOLL_PIN_RELEASED)).toBe(1);
    expectClean(k);
  });

  it('a SIGKILL sent before the pin (no fault site) is seen too', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 2 * PAGE_SIZE });
    const pages: number[] = [];
    let rc: number | null = null;
    k.rt.spawn('driver', 0, function* (t: Task): KernelGen {
      yield* fill(k, mm, addr, 2);
      k.rt.sendFatalSignal(t);
      rc = yield* pinUserPages(k, mm, addr, 2, FOLL_LONGTERM, pages);
    });
    expect(k.run().status).toBe('completed');
    expect(rc).toBe(-EINTR);
    expect(k.rt.fatalSignalSite.calls).toBe(0);
    expectClean(k);
  });

  it('a kernel thread never gets the signal: its pin goes through with the site on', () => {
    const k = machine();
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 2 * PAGE_SIZE });
    const pages: number[] = [];
    let rc: number | null = null;
    k.rt.spawn('kthread', 0, function* (t: Task): KernelGen {
      t.flags |= PF_KTHREAD;
      yield* fill(k, mm, addr, 2);
      k.rt.faults.configure(ALWAYS);
      rc = yield* pinUserPages(k, mm, addr, 2, FOLL_WRITE, pages);
      yield* unpinUserPages(k, mm, pages);
    });
    expect(k.run().status).toBe('completed');
    expect(rc).toBe(2);
    expect(k.rt.fatalSignalSite.calls).toBe(0);
    expectClean(k);
  });
});
