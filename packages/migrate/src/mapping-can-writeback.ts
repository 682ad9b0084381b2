import { isAddressSpace } from '@mmsim/rmap';

/**
 * `mapping_can_writeback(mapping)` (include/linux/backing-dev.h): the value set on the
 * address space; else false for shmem (its backing device has no BDI_CAP_WRITEBACK), true
 * otherwise.
 */
export function mappingCanWriteback(mapping: object): boolean {
  if (!isAddressSpace(mapping)) return true;
  return mapping.canWriteback ?? !mapping.shmem;
}
