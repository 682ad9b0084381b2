import { MmsimError } from '@mmsim/runtime';
import { AddressSpace, type AddressSpaceOperationsBase } from './address-space.js';
import type { AddressSpaceView } from './readonly-views.js';

/**
 * What a filesystem sets on an inode's mapping when it creates the inode: its `a_ops` and
 * whether its backing device writes back. These are the only writes other packages make
 * to an address space, so they go through rmap rather than through the object.
 */

function addressSpaceOf(mapping: AddressSpaceView): AddressSpace {
  if (!(mapping instanceof AddressSpace)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      'the mapping must be an AddressSpace of @mmsim/rmap (a_ops live on the address space)',
    );
  }
  return mapping;
}

/**
 * Sets `mapping->a_ops`, as a filesystem does while setting up an inode (`ext4_set_aops`,
 * fs/ext4/inode.c, 6.3); null restores the default of the mapping's kind. rmap only
 * stores the table: the migrate core reads and checks it.
 */
export function mappingSetAops(
  mapping: AddressSpaceView,
  aops: AddressSpaceOperationsBase | null,
): void {
  addressSpaceOf(mapping).aops = aops;
}

/**
 * Sets what `mapping_can_writeback()` (include/linux/backing-dev.h, 6.3) answers for the
 * mapping, standing for BDI_CAP_WRITEBACK of the inode's backing device; null restores the
 * default (false for shmem, true otherwise).
 */
export function mappingSetCanWriteback(
  mapping: AddressSpaceView,
  canWriteback: boolean | null,
): void {
  addressSpaceOf(mapping).canWriteback = canWriteback;
}
