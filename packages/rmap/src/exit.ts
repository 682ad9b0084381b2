import { type KernelGen, MmsimError } from '@mmsim/runtime';
import { PAGE_SIZE } from './constants.js';
import { releasePin } from './gup.js';
import type { Mm } from './mm.js';
import { unlinkVma } from './munmap.js';
import type { RmapState } from './rmap-state.js';
import { dropMmTlbs, flushTlbMm, forgetMm } from './tlb.js';
import { MmuGather, tlbFreePages, zapRange } from './zap.js';

/**
 * `exit_mmap(mm)` (mm/mmap.c, 6.3) once the process's last task is gone: under
 * `mmap_lock` for write, `lru_add_drain()` (this CPU's LRU batch lets go of its pages), zap every VMA, flush the TLB (a full flush, `tlb_finish_mmu` with
 * fullmm), put every page, unlink every VMA from its anon_vmas and file, and free the page
 * tables. The pins the process still holds are released (the model's stand-in for the
 * driver closing). Every page only this process mapped returns to its node's free lists.
 *
 * The other CPUs of `mm_cpumask` are taken out of it first: on x86 a CPU leaves the mask
 * when it switches to another mm (`switch_mm_irqs_off`), which the process's tasks, all
 * gone, have done. So the final flush is local, and the dead mm's entries are dropped from
 * every TLB.
 */
export function* exitMmap(ctx: RmapState, mm: Mm): KernelGen {
  if (!mm.alive) throw new MmsimError('INVALID_STATE', `exit_mmap: ${mm} has already exited`);
  const sem = mm.mmapLock;
  if (!sem.downWriteTrylock()) yield* sem.downWrite('exit_mmap');
  if (ctx.lru !== null) yield* ctx.lru.lruAddDrain();
  const tlb = new MmuGather();
  for (const vma of mm.vmas) {
    yield* zapRange(ctx, vma, vma.start / PAGE_SIZE, vma.end / PAGE_SIZE, tlb);
  }
  const me = ctx.rt.current.cpu.id;
  for (let cpu = 0; cpu < mm.cpumask.length; cpu++) {
    if (cpu !== me && mm.cpumask[cpu] !== 0) {
      mm.cpumask[cpu] = 0;
      mm.cpusInMask--;
    }
  }
  flushTlbMm(ctx, mm);
  dropMmTlbs(mm);
  yield* tlbFreePages(ctx, tlb);
  const vmas = [...mm.vmas];
  mm.vmas.length = 0;
  for (const vma of vmas) yield* unlinkVma(ctx, vma);
  mm.pageTables.clear();
  mm.pmds.clear();
  for (const [pfn, n] of [...mm.pins]) {
    for (let i = 0; i < n; i++) yield* releasePin(ctx, pfn);
  }
  mm.pins.clear();
  mm.cpumask.fill(0);
  mm.cpusInMask = 0;
  forgetMm(ctx, mm);
  mm.alive = false;
  ctx.mms.delete(mm);
  sem.upWrite();
}
