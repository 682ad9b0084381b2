import { type Task, tracedPlainFunction } from '@mmsim/runtime';
import {
  PAGE_SHIFT,
  TLB_FLUSH_BATCH_FLUSHED_SHIFT,
  TLB_FLUSH_BATCH_PENDING_LARGE,
  TLB_FLUSH_BATCH_PENDING_MASK,
  TTU_BATCH_FLUSH,
} from './constants.js';
import type { Mm } from './mm.js';
import { pteDirty, pteHwPresent, pteProtnone } from './pte.js';
import type { RmapState } from './rmap-state.js';
import { flushTlbMm, flushTlbOthersAndLocal } from './tlb.js';

/**
 * `struct tlbflush_unmap_batch` (include/linux/mm_types_task.h, 6.3): the per-task record
 * of TLB flushes deferred by `try_to_unmap` / `try_to_migrate` with TTU_BATCH_FLUSH.
 * `cpumask` is x86's `arch_tlbflush_unmap_batch`; `mms` are the address spaces added to
 * it (x86 bumps their TLB generation so that their entries are flushed everywhere; the
 * model flushes those mms' entries).
 */
export class TlbFlushUnmapBatch {
  /** The CPUs to flush (`arch.cpumask`). */
  readonly cpumask: Uint8Array;
  /** The mms with deferred flushes in this batch. */
  readonly mms = new Set<Mm>();
  /** `flush_required`. */
  flushRequired = false;
  /** `writable`: a dirty (so maybe writable) PTE was cleared. */
  writable = false;
  /**
   * Model only: the kernel function that returned with this batch still pending on a path
   * where the kernel itself skips `try_to_unmap_flush()` (`leaveTlbBatchPending`), or null.
   * A new deferral or a flush clears it.
   */
  leftPendingBy: string | null = null;

  constructor(nrCpus: number) {
    this.cpumask = new Uint8Array(nrCpus);
  }

  /** The CPUs recorded, in increasing order. */
  get pendingCpus(): number[] {
    const out: number[] = [];
    this.cpumask.forEach((bit, cpu) => {
      if (bit !== 0) out.push(cpu);
    });
    return out;
  }
}

/** `current->tlb_ubc` of `task`, created on first use. */
export function taskTlbBatch(ctx: RmapState, task: Task): TlbFlushUnmapBatch {
  let batch = taskTlbBatchOrNull(ctx, task);
  if (batch === null) {
    batch = new TlbFlushUnmapBatch(ctx.rt.cpus.length);
    ctx.batches.set(task, batch);
    ctx.lastBatchTask = task;
    ctx.lastBatch = batch;
  }
  return batch;
}

/**
 * `current->tlb_ubc` of `task` if it has used one, else null; the last task asked about is
 * answered without a lookup (`ctx.batches` only grows, so the remembered entry stays valid).
 */
export function taskTlbBatchOrNull(ctx: RmapState, task: Task): TlbFlushUnmapBatch | null {
  if (task === ctx.lastBatchTask) return ctx.lastBatch;
  const batch = ctx.batches.get(task);
  if (batch === undefined) return null;
  ctx.lastBatchTask = task;
  ctx.lastBatch = batch;
  return batch;
}

/**
 * `should_defer_flush(mm, flags)` (mm/rmap.c, 6.3): defer only with TTU_BATCH_FLUSH and
 * when some CPU other than the current one is in `mm_cpumask`; a purely local mm is
 * flushed at once. (6.5 hands this to `arch_tlbbatch_should_defer`.) The mask holds the
 * CPUs that have the mm loaded, lazy ones included (x86 does not test `is_lazy` here), so
 * a CPU that has switched to another mm no longer makes the flush deferred.
 */
export function shouldDeferFlush(ctx: RmapState, mm: Mm, flags: number): boolean {
  if ((flags & TTU_BATCH_FLUSH) === 0) return false;
  return mm.otherCpusInMask(ctx.rt.current.cpu.id);
}

/**
 * `pte_accessible(mm, pte)` (arch/x86/include/asm/pgtable.h, 6.3): some CPU may hold a TLB
 * entry for it. True for an entry the CPU can use; for a PROT_NONE entry only while a flush
 * of the change that made it PROT_NONE is still pending (`mm_tlb_flush_pending`); false for
 * a swap or migration entry and for `pte_none`.
 */
export function pteAccessible(mm: Mm, pte: number): boolean {
  if (pteHwPresent(pte)) return true;
  return pteProtnone(pte) && mm.tlbFlushPending > 0;
}

/**
 * `set_tlb_ubc_flush_pending(mm, pteval)` (mm/rmap.c): add the mm's CPUs to the current
 * task's batch (`arch_tlbbatch_add_mm`, which also bumps the mm's TLB generation), require
 * a flush, bump the pending generation of `mm->tlb_flush_batched` (restarting at pending 1,
 * flushed 0 once pending passes half its mask), and note a dirty PTE. In 6.3 the caller
 * passes `pte_dirty(pteval)` and every cleared PTE is recorded. Huang Ying's 4d4b6d66db63
 * "mm,unmap: avoid flushing TLB in batch if PTE is inaccessible" (6.4) passes the old PTE
 * and returns at once when `!pte_accessible(mm, pteval)` (a PROT_NONE NUMA-hint entry whose
 * change was flushed): no CPU can cache it, so nothing is recorded, no batch flush and no
 * IPI follow for it. `skipInaccessible` is that switch (the variant's
 * `tlbBatchSkipsInaccessible`, through the rmap options).
 */
export function setTlbUbcFlushPending(
  ctx: RmapState,
  mm: Mm,
  pteval: number,
  skipInaccessible: boolean,
): void {
  if (skipInaccessible && !pteAccessible(mm, pteval)) {
    ctx.tlbStats.inaccessibleSkipped++;
    return;
  }
  const writable = pteDirty(pteval);
  const batch = taskTlbBatch(ctx, ctx.rt.current);
  mm.tlbGen++; // arch_tlbbatch_add_mm: inc_mm_tlb_gen
  const mask = mm.cpumask;
  for (let cpu = 0; cpu < mask.length; cpu++) if (mask[cpu] !== 0) batch.cpumask[cpu] = 1;
  batch.mms.add(mm);
  batch.flushRequired = true;
  batch.leftPendingBy = null;
  const b = mm.tlbFlushBatched;
  mm.tlbFlushBatched =
    (b & TLB_FLUSH_BATCH_PENDING_MASK) > TLB_FLUSH_BATCH_PENDING_LARGE ? 1 : b + 1;
  if (writable) batch.writable = true;
  ctx.tlbStats.deferredFlushes++;
}

/**
 * `arch_tlbbatch_flush` (arch/x86/mm/tlb.c, 6.3): a full flush of the batch's CPUs, by IPI
 * when any of them is another CPU, else locally when only this CPU is in it; then the mask
 * is cleared.
 */
function archTlbbatchFlush(ctx: RmapState, batch: TlbFlushUnmapBatch): void {
  ctx.tlbStats.batchFlushes++;
  flushTlbOthersAndLocal(ctx, batch.cpumask, batch.mms, {
    startVpn: 0,
    nrPages: 0,
    strideShift: PAGE_SHIFT,
    all: true,
  });
  batch.cpumask.fill(0);
  batch.mms.clear();
}

/**
 * `try_to_unmap_flush()` (mm/rmap.c, 6.3): if the current task's batch requires a flush,
 * flush it and clear `flush_required` and `writable`. Migration calls it once per batch,
 * between the unmap and the move phases: no copy may start before it.
 */
export const tryToUnmapFlush = tracedPlainFunction('try_to_unmap_flush', tryToUnmapFlushBody);
function tryToUnmapFlushBody(ctx: RmapState): void {
  const batch = taskTlbBatchOrNull(ctx, ctx.rt.current);
  if (batch === null || !batch.flushRequired) return;
  archTlbbatchFlush(ctx, batch);
  batch.flushRequired = false;
  batch.writable = false;
  batch.leftPendingBy = null;
}

/**
 * Model only (no kernel function): `site` returns with the current task's batch still
 * pending, as the kernel does there. `migrate_pages_batch` (mm/migrate.c, 6.3, and the later releases the model follows) goes
 * from an -ENOMEM of the unmap loop straight to `out` when nothing is on `unmap_folios`, so
 * the `try_to_unmap_flush()` at `move` is skipped; PTEs that a folio's partial
 * `try_to_migrate(TTU_BATCH_FLUSH)` cleared and its undo restored stay in
 * `current->tlb_ubc`. That is safe: the restored PTEs map the same folio, and
 * `mm->tlb_flush_batched` still makes `flush_tlb_batched_pending` flush the mm before any
 * later PTE change. The quiescent check accepts such a batch (its TLB entries are still
 * checked against the page tables); a batch left pending anywhere else is reported.
 */
export function leaveTlbBatchPending(ctx: RmapState, site: string): void {
  const batch = taskTlbBatchOrNull(ctx, ctx.rt.current);
  if (batch?.flushRequired === true) batch.leftPendingBy = site;
}

/** `try_to_unmap_flush_dirty()` (mm/rmap.c, 6.3): flush only if a dirty PTE was deferred. */
export function tryToUnmapFlushDirty(ctx: RmapState): void {
  const batch = taskTlbBatchOrNull(ctx, ctx.rt.current);
  if (batch?.writable === true) tryToUnmapFlush(ctx);
}

/**
 * `flush_tlb_batched_pending(mm)` (mm/rmap.c, 6.3), called under the PTL by munmap and
 * exit (and mprotect, madvise, mremap in the kernel) before they change PTEs: if a
 * deferred flush of this mm may still be outstanding (pending != flushed), flush the whole
 * mm now and record the pending generation as flushed.
 */
export function flushTlbBatchedPending(ctx: RmapState, mm: Mm): void {
  const batch = mm.tlbFlushBatched;
  const pending = batch & TLB_FLUSH_BATCH_PENDING_MASK;
  const flushed = batch >>> TLB_FLUSH_BATCH_FLUSHED_SHIFT;
  if (pending === flushed) return;
  flushTlbMm(ctx, mm);
  mm.tlbFlushBatched = (pending | (pending << TLB_FLUSH_BATCH_FLUSHED_SHIFT)) >>> 0;
}

/** The pending and flushed generations of `mm->tlb_flush_batched`. */
export function tlbFlushBatchedGenerations(mm: Mm): { pending: number; flushed: number } {
  const batch = mm.tlbFlushBatched;
  return {
    pending: batch & TLB_FLUSH_BATCH_PENDING_MASK,
    flushed: batch >>> TLB_FLUSH_BATCH_FLUSHED_SHIFT,
  };
}
