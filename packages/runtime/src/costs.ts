import { MmsimError } from './errors.js';

/**
 * Virtual-time costs in nanoseconds. They decide *when* things happen on the per-CPU
 * clocks, never *what* happens. The defaults are order-of-magnitude figures for a
 * two-socket x86-64 server of the 2020s; each says where it comes from. Replace any of
 * them through the runtime config to model another machine.
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
  // 4096 bytes at roughly 10 GB/s of single-core memcpy bandwidth (rep movsb on a modern
  // server core, cold destination) is about 400 ns; a remote-node copy is slower.
  copyPage4k: 500,
  // A CR3 reload costs a few hundred cycles plus the refill of the entries it threw away.
  tlbFlushLocal: 200,
  // invlpg is on the order of 100-250 cycles on recent Intel and AMD cores.
  tlbFlushOnePage: 60,
  // Sending IPIs and waiting for acknowledgements: published measurements of x86 TLB
  // shootdowns (e.g. Amit, "Optimizing the TLB Shootdown Algorithm with Page-Access
  // Tracking", USENIX ATC 2017) put a shootdown at several microseconds end to end.
  tlbShootdownBase: 2000,
  // Each extra target adds its IPI delivery, interrupt entry, flush and ack; roughly
  // half a microsecond per CPU when the targets are on the same socket.
  tlbShootdownPerCpu: 500,
  // A locked cmpxchg/xchg on a cache line that is likely local: about 20 ns.
  pteUpdate: 20,
  // Two atomic operations on a lock word that is usually cache-hot: about 20-40 ns.
  lockRoundTrip: 30,
  // Following the interval tree to one VMA and computing the address: tens of ns.
  rmapStep: 50,
  // One locked read-modify-write: about 10 ns.
  atomicOp: 10,
  // The per-CPU free lists make an order-0 allocation a few dozen to ~100 ns.
  pageAlloc: 100,
  // A direct context switch between kernel threads: about 1-2 us (lmbench lat_ctx class).
  contextSwitch: 1500,
  // Wake-up of a sleeper on another CPU, including the reschedule IPI: a few us.
  wakeup: 2000,
  // An L1/L2 hit: a few ns.
  userAccess: 2,
  // A 4-level page walk that mostly hits the caches: about 30 ns.
  tlbMiss: 30,
  // Descriptor preparation, submission, the doorbell and the completion interrupt or poll:
  // a few microseconds per job for the PCIe-attached engines the batch-copy series was
  // measured with (AMD PTDMA / SDXI class); the reason the providers decline small batches.
  dmaChannelSetup: 5000,
  // A single memcpy channel of those engines sustains a few GB/s (4096 bytes at about
  // 4 GB/s is 1 us); the series spreads a batch over several channels to add them up.
  dmaChannelPage4k: 1000,
  // Queueing a work item on another CPU and waiting for it: a wake-up and a completion,
  // a few microseconds (compare `wakeup`).
  copyThreadSetup: 3000,
  // A kernel thread copies at the single-core rate of `copyPage4k` (about 8 GB/s).
  copyThreadPage4k: 500,
});

/** The cost models `resolveCosts` returned. */
const RESOLVED = new WeakSet<object>();

/** Merges overrides into the defaults; every value must be a finite number >= 0. */
export function resolveCosts(overrides: Partial<CostModel> | undefined): CostModel {
  // A model this function returned is complete, checked and frozen: it is its own result
  // (a kernel resolves its costs once and hands them to the runtime of every instance).
  if (overrides !== undefined && RESOLVED.has(overrides)) return overrides as CostModel;
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
  return resolved;
}
