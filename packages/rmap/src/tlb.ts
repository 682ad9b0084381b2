import type { PhysicalMemory } from '@mmsim/folio';
import { type Task, VmEvent } from '@mmsim/runtime';
import {
  PAGE_SHIFT,
  PTRS_PER_PTE,
  TLB_FLUSH_ALL,
  TLB_LOCAL_SHOOTDOWN,
  TLB_REMOTE_SEND_IPI,
  TLB_SINGLE_PAGE_FLUSH_CEILING,
} from './constants.js';
import { CpuTlb } from './cpu-tlb.js';
import type { Mm } from './mm.js';
import type { RmapState } from './rmap-state.js';

/**
 * Per-CPU TLBs and their flushes, after arch/x86/mm/tlb.c of Linux 6.3.
 *
 * A TLB entry caches one translation of (mm, virtual page): `pfn << 2 | write << 1 |
 * dirty`. Entries stay until flushed, whatever the page tables say since, so a CPU with a
 * stale entry keeps reading and writing the old frame: that is what the flush protocol of
 * migration is about. Entries are tagged by mm (as with PCID) and kept per mm
 * (`mm.tlb[cpu]`, a `CpuTlb` of typed arrays), so flushing an mm on a CPU is one
 * operation.
 *
 * Flushes follow `flush_tlb_mm_range`: when a CPU other than the current one is in
 * `mm_cpumask`, one shootdown round (`flush_tlb_multi`) sends an IPI to every other CPU
 * in the mask that is not in lazy TLB mode and flushes locally if the current CPU is in
 * it (and not lazy); otherwise only the local TLB is flushed (if the current CPU uses the
 * mm at all). The mask and the lazy state follow x86's context switches: see
 * `switchMmIrqsOff`, `enterLazyTlb`, `contextSwitchMm`. IPIs are synchronous: the
 * initiator waits for every acknowledgement, so the remote flushes are done when the call
 * returns. Costs are charged to the initiating CPU.
 */

/** TLB entry bit: the translation allows writes. */
export const TLB_WRITE = 0x2;
/** TLB entry bit: the translation was used for a write (the PTE's dirty bit was set). */
export const TLB_DIRTY = 0x1;

/** A range of virtual pages to flush, or every page of the mm. */
export interface FlushRange {
  /** First virtual page, ignored when `all`. */
  readonly startVpn: number;
  /** Pages in the range, ignored when `all`. */
  readonly nrPages: number;
  /** `PAGE_SHIFT`, or `PMD_SHIFT` for a huge mapping (one invalidation per 2 MiB). */
  readonly strideShift: number;
  /** Flush everything (`TLB_FLUSH_ALL`). */
  readonly all: boolean;
}

/** `pfn << 2 | write << 1 | dirty`. */
export function tlbEntry(pfn: number, write: boolean, dirty: boolean): number {
  return pfn * 4 + (write ? TLB_WRITE : 0) + (dirty ? TLB_DIRTY : 0);
}

/**
 * The TLB of `cpu` for `mm`, created on first use; its chunks are buffers of the machine
 * `mem` (see `CpuTlb`).
 */
export function cpuTlb(mm: Mm, cpu: number, mem: PhysicalMemory): CpuTlb {
  let tlb = mm.tlb[cpu];
  if (tlb === undefined) {
    tlb = new CpuTlb(mem);
    mm.tlb[cpu] = tlb;
  }
  return tlb;
}

/** Number of invalidations a range flush costs (`(end - start) >> stride_shift`). */
function invalidations(range: FlushRange): number {
  return Math.max(1, range.nrPages >> (range.strideShift - PAGE_SHIFT));
}

/** `flush_tlb_func` on one CPU for one mm: drop the range's entries, or all of them. */
function flushOnCpu(mm: Mm, cpu: number, range: FlushRange, full: boolean): void {
  const tlb = mm.tlb[cpu];
  if (tlb === undefined || tlb.size === 0) return;
  if (full) {
    tlb.clear();
    return;
  }
  // One page (`flush_tlb_page`, a PTE of `try_to_migrate_one`): its entry alone, as
  // `deleteRange` of [vpn, vpn + 1) drops it, without the end of the range (a user vpn
  // above 2^31 is a heap number when passed to a call V8 does not inline).
  if (range.nrPages === 1) tlb.delete(range.startVpn);
  else tlb.deleteRange(range.startVpn, range.startVpn + range.nrPages);
}

/**
 * `flushOnCpu` of every mm of `mms` on `cpu`, in their order: an array (a one-mm flush)
 * by index, with no iterator object per CPU; a batch's set of mms by its iterator.
 */
function flushMmsOnCpu(mms: Iterable<Mm>, cpu: number, range: FlushRange, full: boolean): void {
  if (Array.isArray(mms)) {
    const list = mms as readonly Mm[];
    for (let i = 0; i < list.length; i++) flushOnCpu(list[i]!, cpu, range, full);
    return;
  }
  for (const mm of mms) flushOnCpu(mm, cpu, range, full);
}

/** Whether `mm` has entries cached on `cpu`, which a skipped flush leaves stale. */
function markStaleOne(mm: Mm, cpu: number): void {
  const tlb = mm.tlb[cpu];
  if (tlb !== undefined && tlb.size > 0) mm.tlbStale[cpu] = 1;
}

/**
 * `flush_tlb_func` did not run on `cpu` for `mms` (it was lazy, or left for `init_mm`):
 * their entries there may be stale, so the CPU flushes them when it next loads one of them
 * for a task (the `tlb_gen` check of `switch_mm_irqs_off`).
 */
function markStale(mms: Iterable<Mm>, cpu: number): void {
  if (Array.isArray(mms)) {
    const list = mms as readonly Mm[];
    for (let i = 0; i < list.length; i++) markStaleOne(list[i]!, cpu);
    return;
  }
  for (const mm of mms) markStaleOne(mm, cpu);
}

/**
 * What `flush_tlb_func` does on a CPU in lazy TLB mode (arch/x86/mm/tlb.c, 6.3): instead
 * of a minimal flush, `switch_mm_irqs_off(NULL, &init_mm, NULL)`, which takes the CPU out
 * of the loaded mm's cpumask. The flush itself is not done there (`mms` go stale).
 */
function lazyCpuToInitMm(ctx: RmapState, cpu: number, mms: Iterable<Mm>): void {
  markStale(mms, cpu);
  switchMmIrqsOff(ctx, cpu, null);
}

/**
 * The flush of `flush_tlb_mm_range` or `arch_tlbbatch_flush` once the targets are known,
 * as arch/x86/mm/tlb.c does it in 6.3. When `targets` (a cpumask) holds a CPU other than
 * the current one: one shootdown round, `native_flush_tlb_multi`, which counts and traces
 * the round and then runs `flush_tlb_func` only on the CPUs of the mask that are not in
 * lazy TLB mode (`on_each_cpu_cond_mask(tlb_is_not_lazy, ...)`), the current CPU included
 * when it is in the mask. Otherwise, when the current CPU is in `targets`, `flush_tlb_func`
 * runs here, and if this CPU is lazy it switches to `init_mm` instead of flushing. (x86
 * IPIs lazy CPUs too when page tables were freed, `freed_tables`; the model's flushes
 * never free page tables: munmap frees them after its flush.) `mms` are the
 * address spaces whose entries go (one for an mm flush; every mm of the batch for a batch
 * flush, which flushes everything).
 */
export function flushTlbOthersAndLocal(
  ctx: RmapState,
  targets: Uint8Array,
  mms: Iterable<Mm>,
  range: FlushRange,
): void {
  const rt = ctx.rt;
  const me = rt.current.cpu.id;
  const costs = ctx.costs;
  const stats = ctx.tlbStats;
  const lazy = ctx.tlbLazy;
  const full = range.all || invalidations(range) > TLB_SINGLE_PAGE_FLUSH_CEILING;
  const pages = full ? TLB_FLUSH_ALL : invalidations(range);
  let others = 0;
  let remote = 0;
  for (let cpu = 0; cpu < targets.length; cpu++) {
    if (targets[cpu] !== 0 && cpu !== me) {
      others++;
      if (lazy[cpu] === 0) remote++;
    }
  }
  if (others > 0) {
    // native_flush_tlb_multi: count and trace the round, then IPI the CPUs of the mask
    // that are not lazy.
    stats.shootdowns++;
    ctx.vmstat.countVmEvents(VmEvent.NR_TLB_REMOTE_FLUSH);
    const tp = ctx.trace.tlbFlush;
    if (tp.enabled) tp.emit({ reason: TLB_REMOTE_SEND_IPI, pages });
    if (remote > 0) rt.charge(costs.tlbShootdownBase + costs.tlbShootdownPerCpu * remote);
    for (let cpu = 0; cpu < targets.length; cpu++) {
      if (targets[cpu] === 0 || cpu === me) continue;
      if (lazy[cpu] !== 0) {
        stats.lazySkipped++;
        markStale(mms, cpu);
        continue;
      }
      stats.ipisSent++;
      stats.ipisReceived[cpu]!++;
      ctx.vmstat.countVmEvents(VmEvent.NR_TLB_REMOTE_FLUSH_RECEIVED);
      flushMmsOnCpu(mms, cpu, range, full);
    }
    if (targets[me] !== 0) {
      if (lazy[me] === 0) localFlush(ctx, mms, me, range, full, pages);
      else markStale(mms, me);
    }
  } else if (targets[me] !== 0) {
    // flush_tlb_mm_range's `mm == loaded_mm` branch, arch_tlbbatch_flush's
    // `cpumask_test_cpu(cpu, &batch->cpumask)`: flush_tlb_func here.
    if (lazy[me] === 0) localFlush(ctx, mms, me, range, full, pages);
    else lazyCpuToInitMm(ctx, me, mms);
  }
}

/** `flush_tlb_func` on the initiating CPU: the flush, its vmstat count, cost and trace. */
function localFlush(
  ctx: RmapState,
  mms: Iterable<Mm>,
  me: number,
  range: FlushRange,
  full: boolean,
  pages: number,
): void {
  const stats = ctx.tlbStats;
  flushMmsOnCpu(mms, me, range, full);
  if (full) {
    stats.localFlushAll++;
    ctx.vmstat.countVmEvents(VmEvent.NR_TLB_LOCAL_FLUSH_ALL);
    ctx.rt.charge(ctx.costs.tlbFlushLocal);
  } else {
    stats.localFlushOne += pages;
    ctx.vmstat.countVmEvents(VmEvent.NR_TLB_LOCAL_FLUSH_ONE, pages);
    ctx.rt.charge(ctx.costs.tlbFlushOnePage * pages);
  }
  const tp = ctx.trace.tlbFlush;
  if (tp.enabled) tp.emit({ reason: TLB_LOCAL_SHOOTDOWN, pages });
}

/**
 * `flush_tlb_mm_range(mm, start, end, stride_shift, freed_tables)` (arch/x86/mm/tlb.c,
 * 6.3): bump the mm's TLB generation, then IPIs to the other CPUs of `mm_cpumask` that
 * are not lazy if the mask holds another CPU, and the local flush when this CPU runs the
 * mm. A range of more than `tlb_single_page_flush_ceiling` (33)
 * invalidations becomes a full flush.
 */
export function flushTlbMmRange(ctx: RmapState, mm: Mm, range: FlushRange): void {
  mm.tlbGen++; // inc_mm_tlb_gen
  flushTlbOthersAndLocal(ctx, mm.cpumask, [mm], range);
}

/**
 * The range and the one-mm list of `flushTlbPage`, reused by every call: the flush reads
 * them synchronously and keeps neither, and nothing in it flushes a page again (a
 * throw leaves them to the next call).
 */
const ONE_PAGE: { startVpn: number; nrPages: number; strideShift: number; all: boolean } = {
  startVpn: 0,
  nrPages: 1,
  strideShift: PAGE_SHIFT,
  all: false,
};
const ONE_MM: (Mm | null)[] = [null];

/** `flush_tlb_page(vma, addr)`: one page (`flush_tlb_mm_range` of one page, as above). */
export function flushTlbPage(ctx: RmapState, mm: Mm, vpn: number): void {
  mm.tlbGen++; // inc_mm_tlb_gen
  // The common case, the mm loaded on this CPU alone, which is not lazy: what
  // `flushTlbOthersAndLocal` does then (no shootdown round, `localFlush` of one page),
  // without building the range and the one-mm list.
  const me = ctx.rt.current.cpu.id;
  if (mm.cpusInMask === 1 && mm.cpumask[me] !== 0 && ctx.tlbLazy[me] === 0) {
    const tlb = mm.tlb[me];
    if (tlb !== undefined && tlb.size !== 0) tlb.delete(vpn);
    ctx.tlbStats.localFlushOne += 1;
    ctx.vmstat.countVmEvents(VmEvent.NR_TLB_LOCAL_FLUSH_ONE, 1);
    ctx.rt.charge(ctx.costs.tlbFlushOnePage);
    const tp = ctx.trace.tlbFlush;
    if (tp.enabled) tp.emit({ reason: TLB_LOCAL_SHOOTDOWN, pages: 1 });
    return;
  }
  ONE_PAGE.startVpn = vpn;
  ONE_MM[0] = mm;
  flushTlbOthersAndLocal(ctx, mm.cpumask, ONE_MM as Mm[], ONE_PAGE);
  ONE_MM[0] = null; // keeps no machine alive
}

/** `flush_pmd_tlb_range` for a PMD mapping: one invalidation of a 2 MiB entry. */
export function flushTlbPmd(ctx: RmapState, mm: Mm, firstVpn: number): void {
  flushTlbMmRange(ctx, mm, {
    startVpn: firstVpn,
    nrPages: PTRS_PER_PTE,
    strideShift: PAGE_SHIFT + 9,
    all: false,
  });
}

/** `flush_tlb_mm(mm)`: everything of the mm on every CPU of its mask. */
export function flushTlbMm(ctx: RmapState, mm: Mm): void {
  flushTlbMmRange(ctx, mm, { startVpn: 0, nrPages: 0, strideShift: PAGE_SHIFT, all: true });
}

/** `flush_tlb_range(vma, start, end)` over page-granular mappings. */
export function flushTlbRange(ctx: RmapState, mm: Mm, startVpn: number, nrPages: number): void {
  flushTlbMmRange(ctx, mm, { startVpn, nrPages, strideShift: PAGE_SHIFT, all: false });
}

/** Drops every entry of `mm` on every CPU without counting (the mm is gone). */
export function dropMmTlbs(mm: Mm): void {
  for (let cpu = 0; cpu < mm.tlb.length; cpu++) mm.tlb[cpu] = undefined;
}

/**
 * `switch_mm_irqs_off(prev, next, tsk)` (arch/x86/mm/tlb.c, 6.3) on `cpu`, `prev` being
 * the CPU's loaded mm; `next` null is `init_mm`. The CPU leaves lazy mode. The same mm
 * again: nothing to do unless the CPU was lazy and a flush skipped it meanwhile (x86
 * compares `tlb_gen`), then its entries of the mm go. Another mm: the CPU leaves the
 * previous mm's cpumask (remembering that mm's TLB generation) and joins the next one's,
 * and flushes its entries of `next` if `next`'s generation moved on since the CPU last
 * left it or a flush skipped it (`choose_new_asid`'s `need_flush`; the model keeps every
 * mm's entries as if PCIDs were unlimited, where x86 recycles 6 ASIDs per CPU).
 */
export function switchMmIrqsOff(ctx: RmapState, cpu: number, next: Mm | null): void {
  const prev = ctx.loadedMm[cpu] ?? null;
  const wasLazy = ctx.tlbLazy[cpu] !== 0;
  ctx.tlbLazy[cpu] = 0;
  if (prev === next) {
    if (wasLazy && next !== null && next.tlbStale[cpu] !== 0) flushOnSwitch(ctx, next, cpu);
    return;
  }
  if (prev !== null) {
    prev.clearCpu(cpu);
    prev.cpuTlbGen[cpu] = prev.tlbGen;
  }
  ctx.loadedMm[cpu] = next;
  if (next === null) return;
  next.markCpu(cpu);
  if (next.tlbStale[cpu] !== 0 || next.cpuTlbGen[cpu] !== next.tlbGen) {
    flushOnSwitch(ctx, next, cpu);
  }
}

/** The CPU's entries of `mm` go at a switch to it (`TLB_FLUSH_ON_TASK_SWITCH`, uncounted by vmstat). */
function flushOnSwitch(ctx: RmapState, mm: Mm, cpu: number): void {
  mm.tlbStale[cpu] = 0;
  const tlb = mm.tlb[cpu];
  if (tlb !== undefined && tlb.size > 0) {
    tlb.clear();
    ctx.tlbStats.switchFlushes++;
  }
}

/**
 * True when `cpu` will drop its entries of `mm` before it uses them again: a flush of the
 * mm skipped it (lazy), or the mm's TLB generation moved on since the CPU switched away.
 * Such entries may be stale (`switch_mm_irqs_off` compares `tlb_gen`, arch/x86/mm/tlb.c,
 * 6.3).
 */
export function tlbFlushedBeforeUse(mm: Mm, cpu: number): boolean {
  return mm.tlbStale[cpu] !== 0 || (mm.cpumask[cpu] === 0 && mm.cpuTlbGen[cpu] !== mm.tlbGen);
}

/**
 * `enter_lazy_tlb(mm, tsk)` (arch/x86/mm/tlb.c, 6.3): a kernel thread runs on `cpu`; the
 * loaded mm stays loaded and the CPU stays in its cpumask, marked lazy
 * (`cpu_tlbstate_shared.is_lazy`), unless nothing but `init_mm` is loaded.
 */
export function enterLazyTlb(ctx: RmapState, cpu: number): void {
  if (ctx.loadedMm[cpu] !== null) ctx.tlbLazy[cpu] = 1;
}

/**
 * The address-space half of `context_switch` (kernel/sched/core.c, 6.3) when `next`
 * starts running on `cpu`: a user task (one with an mm, see `RmapState.taskMm`) gets its
 * mm loaded with `switch_mm_irqs_off`; a kernel thread (or a task whose mm has exited)
 * borrows the loaded one lazily (`enter_lazy_tlb`). Wired to the runtime's context-switch
 * hook by whoever composes the machine.
 */
export function contextSwitchMm(ctx: RmapState, cpu: number, next: Task): void {
  const mm = ctx.taskMm.get(next);
  if (mm?.alive === true) switchMmIrqsOff(ctx, cpu, mm);
  else enterLazyTlb(ctx, cpu);
}

/**
 * The current task accesses `mm` as a user task while the CPU does not run on it
 * non-lazily: the mm becomes the task's (`task->mm`, the model learns it at the first
 * access) and the CPU switches to it, as the scheduler would have when the task came in.
 */
export function useMm(ctx: RmapState, mm: Mm, cpu: number): void {
  ctx.taskMm.set(ctx.rt.current, mm);
  switchMmIrqsOff(ctx, cpu, mm);
}

/**
 * After `exit_mmap`: no CPU keeps the dead mm loaded, lazily or not (x86 switches lazy
 * CPUs to `init_mm` before the mm is freed), and no task has it.
 */
export function forgetMm(ctx: RmapState, mm: Mm): void {
  const loaded = ctx.loadedMm;
  for (let cpu = 0; cpu < loaded.length; cpu++) {
    if (loaded[cpu] === mm) {
      loaded[cpu] = null;
      ctx.tlbLazy[cpu] = 0;
    }
  }
  for (const [task, m] of ctx.taskMm) if (m === mm) ctx.taskMm.delete(task);
}
