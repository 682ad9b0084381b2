import { MmsimError } from './errors.js';

/**
 * Virtual-time costs in nanoseconds. They decide *when* things happen on the per-CPU
 * clocks, never *what* happens. The defaults are order-of-magnitude figures for a
 * two-socket x86-64 server of the 2020s; each says where it comes from, and which are
 * estimates. Replace any of them through the runtime config, or pick a named profile of
 * another machine (`costProfile`, cost-profiles.ts: `x86-2s`, `arm64-128`; docs/calibration.md).
 */
export interface CostModel {
  /** Copying one 4 KiB base page (copy_highpage / folio_copy, per base page). */
  readonly copyPage4k: number;
  /** Flushing a whole mm from the local TLB (flush_tlb_mm on this CPU). */
  readonly tlbFlushLocal: number;
  /** Invalidating one virtual page in the local TLB (invlpg). */
  readonly tlbFlushOnePage: number;
  /** Fixed cost to the initiating CPU of one TLB-shootdown round (flush_tlb_multi). */
  readonly tlbShootdownBase: number;
  /** Added per target CPU of a shootdown: the IPI and the wait for its acknowledgement. */
  readonly tlbShootdownPerCpu: number;
  /** Reading, exchanging or writing one PTE or PMD with an atomic operation. */
  readonly pteUpdate: number;
  /** An uncontended lock and unlock of a spinlock, mutex, rwsem or page bit lock. */
  readonly lockRoundTrip: number;
  /** One step of an rmap walk: visiting one VMA of an anon_vma or i_mmap tree. */
  readonly rmapStep: number;
  /** An atomic refcount or flag operation on struct page. */
  readonly atomicOp: number;
  /** Allocating or freeing one page through the per-CPU lists or the buddy. */
  readonly pageAlloc: number;
  /** Switching the CPU from one task to another (schedule()). */
  readonly contextSwitch: number;
  /** Waking a task that sleeps on another CPU (try_to_wake_up with a reschedule IPI). */
  readonly wakeup: number;
  /** A user-space memory access that hits the TLB. */
  readonly userAccess: number;
  /** A page-table walk after a TLB miss. */
  readonly tlbMiss: number;
  /**
   * Copy offload (the batch-copy series' providers): preparing and submitting one DMA
   * memcpy job on one channel and collecting its completion (`dmaengine_prep_dma_memcpy`,
   * `dmaengine_submit`, `dma_async_issue_pending`, the completion wait), paid once per
   * channel a batch uses.
   */
  readonly dmaChannelSetup: number;
  /**
   * One DMA channel moving one 4 KiB page (4096 bytes at the channel's sustained memcpy
   * bandwidth): the per-byte part of a DMA copy, in the unit of `copyPage4k`.
   */
  readonly dmaChannelPage4k: number;
  /**
   * Starting one extra copy thread for a batch and joining it (queue_work_on a copy work
   * item, its wake-up, flush_work): paid once per extra thread a batch uses.
   */
  readonly copyThreadSetup: number;
  /** One copy thread of a multi-threaded copy moving one 4 KiB page (its per-thread rate). */
  readonly copyThreadPage4k: number;
}

export const DEFAULT_COSTS: CostModel = Object.freeze({
  // Estimate. Single-core streaming copy on a 2020s server core runs at roughly 8-10 GB/s
  // (rep movsb / the kernel's copy_page with a cold destination), so 4096 bytes take about
  // 400-500 ns; a cross-socket copy is slower (see the x86-2s profile, cost-profiles.ts).
  copyPage4k: 500,
  // Estimate. A CR3 write (or INVPCID all-context) costs a few hundred cycles, and the 3.6
  // changelog that introduced per-page range flushes (e7b52ffd45a6 "x86/flush_tlb: try flush_tlb_single
  // one by one in flush_tlb_range", Alex Shi) measured invlpg to "compete with cr3
  // rewriting"; the refill of the entries thrown away comes on top. 200 ns.
  tlbFlushLocal: 200,
  // Estimate. The same changelog assumed ~100 ns per invlpg on Sandy Bridge; the ceiling of
  // 33 single-page flushes (Documentation/arch/x86/tlb.rst, tlb_single_page_flush_ceiling,
  // Dave Hansen, 3.17) puts 33 of them at about the price of a full flush and its refills.
  // Newer cores are faster: 60 ns (~180 cycles at 3 GHz).
  tlbFlushOnePage: 60,
  // Estimate within published measurements: an x86 shootdown round (IPI send, interrupt
  // entry on the target, flush, acknowledgement the initiator spins on) takes several
  // microseconds end to end (Amit, "Optimizing the TLB Shootdown Algorithm with Page-Access
  // Tracking", USENIX ATC 2017; Kumar et al., "LATR: Lazy Translation Coherence", ASPLOS
  // 2018). 2 us is the fixed part.
  tlbShootdownBase: 2000,
  // Estimate. flush_tlb_multi sends to every target and waits for all acknowledgements;
  // each extra target adds its IPI delivery, interrupt entry, flush and ack to the wait:
  // taken as half a microsecond per CPU on one socket (the x86-2s profile, calibrated on the
  // batching series, uses 250 ns).
  tlbShootdownPerCpu: 500,
  // Estimate from instruction latencies: a locked cmpxchg/xchg costs about 18-25 cycles on
  // a line in the local cache (Agner Fog, "Instruction tables", Skylake and Zen); with the
  // surrounding loads, about 20 ns.
  pteUpdate: 20,
  // Estimate: two locked operations on a lock word that is usually cache-hot (acquire and
  // release), 20-40 ns.
  lockRoundTrip: 30,
  // Estimate: following the anon_vma / i_mmap interval tree to one VMA, a few dependent
  // cache misses at worst, and computing the address (vma_address): tens of ns.
  rmapStep: 50,
  // Estimate from instruction latencies: one locked read-modify-write on a cache-hot line,
  // 18-25 cycles (Agner Fog, "Instruction tables"): about 10 ns.
  atomicOp: 10,
  // Estimate: an order-0 allocation or free served by the per-CPU lists (rmqueue_pcplist,
  // free_unref_page) is a few dozen to ~100 ns; the buddy path is rarer in these scenarios.
  pageAlloc: 100,
  // Estimate of the lmbench lat_ctx class (McVoy and Staelin, "lmbench: Portable Tools for
  // Performance Analysis", USENIX 1996): a switch between two tasks on one CPU, cache
  // effects included, is 1-2 us on current servers.
  contextSwitch: 1500,
  // Estimate: waking a sleeper on another CPU (try_to_wake_up, the reschedule IPI, the
  // target's exit from idle or its next scheduling point) is a few microseconds.
  wakeup: 2000,
  // An L1 data-cache hit: 4-5 cycles load-to-use (Intel 64 and IA-32 Architectures
  // Optimization Reference Manual, Skylake server and later cores), ~2 ns.
  userAccess: 2,
  // Estimate: a 4-level page walk whose paging-structure entries hit the caches (and the
  // paging-structure caches) costs some tens of cycles: about 30 ns.
  tlbMiss: 30,
  // Estimate. Descriptor preparation, submission, the doorbell and the completion interrupt
  // or poll: a few microseconds per job for the PCIe-attached engines the batch-copy series
  // was measured with (AMD PTDMA / SDXI class); the reason the providers decline small
  // batches.
  dmaChannelSetup: 5000,
  // Estimate: a single memcpy channel of those engines sustains a few GB/s (4096 bytes at
  // about 4 GB/s is 1 us); the series spreads a batch over several channels to add them up.
  dmaChannelPage4k: 1000,
  // Estimate: queueing a work item on another CPU and waiting for it is a wake-up and a
  // completion, a few microseconds (compare `wakeup`).
  copyThreadSetup: 3000,
  // Estimate: a kernel thread copies at the single-core rate of `copyPage4k`.
  copyThreadPage4k: 500,
});

/** The cost models `resolveCosts` returned. */
const RESOLVED = new WeakSet<object>();

/** What `resolveCosts(undefined)` returned first, returned by every later such call. */
let RESOLVED_DEFAULTS: CostModel | null = null;

/** Merges overrides into the defaults; every value must be a finite number >= 0. */
export function resolveCosts(overrides: Partial<CostModel> | undefined): CostModel {
  // A model this function returned is complete, checked and frozen: it is its own result
  // (a kernel resolves its costs once and hands them to the runtime of every instance).
  if (overrides !== undefined && RESOLVED.has(overrides)) return overrides as CostModel;
  // No overrides: the defaults, resolved once (a runtime built without costs, per schedule
  // of a target that gives none, no longer copies them).
  if (overrides === undefined && RESOLVED_DEFAULTS !== null) return RESOLVED_DEFAULTS;
  const costs: Record<string, number> = { ...DEFAULT_COSTS };
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (!(key in DEFAULT_COSTS)) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `costs.${key} is not a known cost; known: ${Object.keys(DEFAULT_COSTS).join(', ')}`,
      );
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `costs.${key} must be a finite number of nanoseconds >= 0, got ${String(value)}`,
      );
    }
    costs[key] = value;
  }
  const resolved = Object.freeze(costs) as unknown as CostModel;
  RESOLVED.add(resolved);
  if (overrides === undefined) RESOLVED_DEFAULTS = resolved;
  return resolved;
}
