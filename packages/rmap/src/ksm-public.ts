import type { KernelGen } from '@mmsim/runtime';
import type { MmView } from './readonly-views.js';
import type { VirtualMemory } from './virtual-memory.js';

export {
  folioMigrateKsm,
  KSM_NO_STABLE_NODE,
  KsmRmapItem,
  type KsmRmapItemState,
  KsmStableNode,
  type KsmStats,
  VM_MERGEABLE,
} from './ksm.js';

/**
 * `ksm_madvise` over `[addr, addr + length)` of `mm` (mm/ksm.c, 6.3), the kernel-level
 * entry point a madvise(2) dispatches MADV_MERGEABLE / MADV_UNMERGEABLE to: returns 0 or
 * -errno. The same as `vm.ksmMadvise(mm, addr, length, advice)`.
 */
export function ksmMadvise(
  vm: VirtualMemory,
  mm: MmView,
  addr: number,
  length: number,
  advice: number,
): KernelGen<number> {
  return vm.ksmMadvise(mm, addr, length, advice);
}
