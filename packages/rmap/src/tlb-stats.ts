/**
 * TLB-flush counters of one machine, beside the vmstat events (`nr_tlb_remote_flush`,
 * `nr_tlb_remote_flush_received`, `nr_tlb_local_flush_all`, `nr_tlb_local_flush_one`) that
 * the flush functions also count, as arch/x86/mm/tlb.c does in 6.3.
 */
export class TlbStats {
  /** Shootdown rounds: `flush_tlb_multi` calls (nr_tlb_remote_flush). */
  shootdowns = 0;
  /** IPIs sent, one per remote CPU of a round (nr_tlb_remote_flush_received). */
  ipisSent = 0;
  /** IPIs each CPU received (CPUs interrupted). */
  readonly ipisReceived: Float64Array;
  /**
   * CPUs of a shootdown's mask that got no IPI because they were in lazy TLB mode
   * (`tlb_is_not_lazy` false in `native_flush_tlb_multi`).
   */
  lazySkipped = 0;
  /**
   * Flushes of an mm's entries at a context switch back to it, because its TLB generation
   * moved on while the CPU was away or lazy (`TLB_FLUSH_ON_TASK_SWITCH`).
   */
  switchFlushes = 0;
  /** Full flushes of an mm on the flushing CPU (nr_tlb_local_flush_all). */
  localFlushAll = 0;
  /** Single-page invalidations on the flushing CPU (nr_tlb_local_flush_one). */
  localFlushOne = 0;
  /** `arch_tlbbatch_flush` calls (the batched flush of try_to_unmap_flush). */
  batchFlushes = 0;
  /** PTEs cleared with their flush deferred to a batch (`set_tlb_ubc_flush_pending`). */
  deferredFlushes = 0;
  /**
   * PTEs cleared with TTU_BATCH_FLUSH that needed no flush because they were not
   * accessible (`set_tlb_ubc_flush_pending` returning early, 4d4b6d66db63, 6.4).
   */
  inaccessibleSkipped = 0;
  /** User accesses that hit the TLB. */
  tlbHits = 0;
  /** User accesses that walked the page tables. */
  tlbMisses = 0;

  constructor(nrCpus: number) {
    this.ipisReceived = new Float64Array(nrCpus);
  }

  /** Sets every counter to 0 (to measure one phase of a run). */
  reset(): void {
    this.shootdowns = 0;
    this.ipisSent = 0;
    this.ipisReceived.fill(0);
    this.lazySkipped = 0;
    this.switchFlushes = 0;
    this.localFlushAll = 0;
    this.localFlushOne = 0;
    this.batchFlushes = 0;
    this.deferredFlushes = 0;
    this.inaccessibleSkipped = 0;
    this.tlbHits = 0;
    this.tlbMisses = 0;
  }
}
