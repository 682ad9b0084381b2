import { VmEvent } from '@mmsim/runtime';
import {
  PAGE_SHIFT,
  PTRS_PER_PTE,
  TLB_FLUSH_ALL,
  TLB_LOCAL_SHOOTDOWN,
  TLB_REMOTE_SEND_IPI,
  TLB_SINGLE_PAGE_FLUSH_CEILING,
} from './constants.js';
import type { Mm } from './mm.js';
import type { RmapState } from './rmap-state.js';

/**
 * Per-CPU TLBs and their flushes, after arch/x86/mm/tlb.c of Linux 6.3.
 *
 * A TLB entry caches one translation of (mm, virtual page): `pfn << 2 | write << 1 |
 * dirty`. Entries stay until flushed, whatever the page tables say since, so a CPU with a
 * stale entry keeps reading and writing the old frame: that is what the flush protocol of
 * migration is about. Entries are tagged by mm (as with PCID) and kept per mm
 * (`mm.tlb[cpu]`), so flushing an mm on a CPU is one map operation.
 *
 * Flushes follow `flush_tlb_mm_range`: when a CPU other than the current one is in
 * `mm_cpumask`, one shootdown round (`flush_tlb_multi`) sends an IPI to every other CPU
 * in the mask and flushes locally if the current CPU is in it; otherwise only the local
 * TLB is flushed (if the current CPU uses the mm at all). IPIs are synchronous: the
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

/** The TLB of `cpu` for `mm`, created on first use. */
export function cpuTlb(mm: Mm, cpu: number): Map<number, number> {
  let tlb = mm.tlb[cpu];
  if (tlb === undefined) {
    tlb = new Map();
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
  const end = range.startVpn + range.nrPages;
  if (range.nrPages > tlb.size) {
    for (const vpn of tlb.keys()) if (vpn >= range.startVpn && vpn < end) tlb.delete(vpn);
    return;
  }
  for (let vpn = range.startVpn; vpn < end; vpn++) tlb.delete(vpn);
}

/**
 * The flush of `flush_tlb_mm_range` or `arch_tlbbatch_flush` once the targets are known:
 * one shootdown round to `targets` (a cpumask) when it holds a CPU other than the current
 * one, else a local flush when the current CPU is in it, else nothing. `mms` are the
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
  const full = range.all || invalidations(range) > TLB_SINGLE_PAGE_FLUSH_CEILING;
  const pages = full ? TLB_FLUSH_ALL : invalidations(range);
  let remote = 0;
  for (let cpu = 0; cpu < targets.length; cpu++) if (targets[cpu] !== 0 && cpu !== me) remote++;
  const local = targets[me] !== 0;
  if (remote > 0) {
    // native_flush_tlb_multi: count, trace, then IPI every CPU of the mask (and run the
    // flush locally when the initiator is in it).
    stats.shootdowns++;
    ctx.vmstat.countVmEvents(VmEvent.NR_TLB_REMOTE_FLUSH);
    const tp = ctx.trace.tlbFlush;
    if (tp.enabled) tp.emit({ reason: TLB_REMOTE_SEND_IPI, pages });
    rt.charge(costs.tlbShootdownBase + costs.tlbShootdownPerCpu * remote);
    for (let cpu = 0; cpu < targets.length; cpu++) {
      if (targets[cpu] === 0 || cpu === me) continue;
      stats.ipisSent++;
      stats.ipisReceived[cpu]!++;
      ctx.vmstat.countVmEvents(VmEvent.NR_TLB_REMOTE_FLUSH_RECEIVED);
      for (const mm of mms) flushOnCpu(mm, cpu, range, full);
    }
  }
  if (local) {
    for (const mm of mms) flushOnCpu(mm, me, range, full);
    if (full) {
      stats.localFlushAll++;
      ctx.vmstat.countVmEvents(VmEvent.NR_TLB_LOCAL_FLUSH_ALL);
      rt.charge(costs.tlbFlushLocal);
    } else {
      stats.localFlushOne += pages;
      ctx.vmstat.countVmEvents(VmEvent.NR_TLB_LOCAL_FLUSH_ONE, pages);
      rt.charge(costs.tlbFlushOnePage * pages);
    }
    const tp = ctx.trace.tlbFlush;
    if (tp.enabled) tp.emit({ reason: TLB_LOCAL_SHOOTDOWN, pages });
  }
}

/**
 * `flush_tlb_mm_range(mm, start, end, stride_shift, freed_tables)` (arch/x86/mm/tlb.c,
 * 6.3): IPIs to the other CPUs of `mm_cpumask` if there are any, and the local flush when
 * this CPU runs the mm. A range of more than `tlb_single_page_flush_ceiling` (33)
 * invalidations becomes a full flush.
 */
export function flushTlbMmRange(ctx: RmapState, mm: Mm, range: FlushRange): void {
  flushTlbOthersAndLocal(ctx, mm.cpumask, [mm], range);
}

/** `flush_tlb_page(vma, addr)`: one page. */
export function flushTlbPage(ctx: RmapState, mm: Mm, vpn: number): void {
  flushTlbMmRange(ctx, mm, { startVpn: vpn, nrPages: 1, strideShift: PAGE_SHIFT, all: false });
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
