import { type Folio, folioTestHugetlb, type PhysicalMemory } from '@mmsim/folio';
import {
  type AddressSpaceView,
  isAddressSpace,
  mappingSetAops,
  mappingSetCanWriteback,
} from '@mmsim/rmap';
import { MmsimError } from '@mmsim/runtime';
import type { AddressSpaceOperations } from './address-space-operations.js';
import { FILEMAP_AOPS, HUGETLBFS_AOPS, SHMEM_AOPS } from './builtin-aops.js';

/**
 * Where migration finds a page-cache mapping's `a_ops` and `mapping_can_writeback()`: on
 * the address space itself (`AddressSpaceView.aops` / `.canWriteback`, as `mapping->a_ops`
 * and the inode's backing device are), not in a registry of the core.
 */

/**
 * Sets `mapping->a_ops` of an address space (`@mmsim/rmap`'s `AddressSpaceView`) and,
 * optionally, whether its backing device writes back (`mapping_can_writeback`). The table
 * is checked first: an object with a name, `migrateFolio` given (null selects
 * `fallback_migrate_folio`), the other members functions or null.
 */
export function setAddressSpaceOperations(
  mapping: AddressSpaceView,
  aops: AddressSpaceOperations,
  options: { readonly canWriteback?: boolean } = {},
): void {
  if (typeof mapping !== 'object' || mapping === null) {
    throw new MmsimError('INVALID_ARGUMENT', 'the mapping must be an object (an address space)');
  }
  checkAops(aops);
  if (options.canWriteback !== undefined && typeof options.canWriteback !== 'boolean') {
    throw new MmsimError('INVALID_ARGUMENT', 'canWriteback must be a boolean');
  }
  if (!isAddressSpace(mapping)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      'the mapping must be an AddressSpace of @mmsim/rmap (a_ops live on the address space)',
    );
  }
  mappingSetAops(mapping, aops);
  if (options.canWriteback !== undefined) mappingSetCanWriteback(mapping, options.canWriteback);
}

/**
 * `mapping->a_ops` of a page-cache folio's mapping: the table set on the address space;
 * else `hugetlbfs_aops` for a hugetlb folio, `shmem_aops` for a shmem file,
 * `FILEMAP_AOPS` otherwise (also for a mapping that is not an rmap `AddressSpace`).
 */
export function mappingAops(
  mem: PhysicalMemory,
  mapping: object,
  folio: Folio,
): AddressSpaceOperations {
  const as = isAddressSpace(mapping) ? mapping : null;
  // Only setAddressSpaceOperations writes the slot, and it checked the table.
  const set = as?.aops as AddressSpaceOperations | null | undefined;
  if (set !== null && set !== undefined) return set;
  if (folioTestHugetlb(mem, folio)) return HUGETLBFS_AOPS;
  if (as?.shmem === true) return SHMEM_AOPS;
  return FILEMAP_AOPS;
}

function checkAops(aops: AddressSpaceOperations): void {
  if (typeof aops !== 'object' || aops === null || typeof aops.name !== 'string') {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      'address_space_operations must be an object with a name (see AddressSpaceOperations)',
    );
  }
  for (const key of ['migrateFolio', 'writepage', 'releaseFolio'] as const) {
    const fn = aops[key];
    if (fn !== undefined && fn !== null && typeof fn !== 'function') {
      throw new MmsimError('INVALID_ARGUMENT', `${aops.name}.${key} must be a function or null`);
    }
  }
  if (!('migrateFolio' in aops)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `${(aops as { name: string }).name}.migrateFolio must be given (null selects fallback_migrate_folio)`,
    );
  }
}
