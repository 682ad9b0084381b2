import {
  type Folio,
  folioFlags,
  folioMappingKind,
  folioRawMapping,
  PG_mlocked,
  PG_slab,
  PG_swapbacked,
  PG_swapcache,
} from '@mmsim/folio';
import { MmsimError } from '@mmsim/runtime';
import type { LruState } from './lru-state.js';

const MLOCKED = 1 << PG_mlocked;
const SLAB = 1 << PG_slab;
const SWAPCACHE = (1 << PG_swapbacked) | (1 << PG_swapcache);

/**
 * `folio_evictable` (mm/internal.h, Linux 6.3): a folio is evictable unless PG_mlocked is
 * set or its `folio_mapping` is an address space marked unevictable (AS_UNEVICTABLE:
 * ramfs, SHM_LOCKed shm, ...). Anonymous, KSM and movable folios have no mapping for this
 * purpose, and the swap cache's address space is never unevictable.
 */
export function folioEvictable(s: LruState, folio: Folio): boolean {
  const mem = s.mem;
  const flags = folioFlags(mem, folio);
  if ((flags & MLOCKED) !== 0) return false;
  if (s.unevictableMarks === 0) return true;
  if ((flags & SLAB) !== 0 || (flags & SWAPCACHE) === SWAPCACHE) return true;
  if (folioMappingKind(mem, folio) !== 0) return true;
  const mapping = folioRawMapping(mem, folio);
  return mapping === null || s.unevictableMappings?.has(mapping) !== true;
}

function checkMapping(mapping: object, fn: string): void {
  if (mapping === null || (typeof mapping !== 'object' && typeof mapping !== 'function')) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `${fn} needs the address-space object a folio's mapping points at, got ${String(mapping)}`,
    );
  }
}

/** `mapping_set_unevictable` (include/linux/pagemap.h, 6.3): set AS_UNEVICTABLE. */
export function mappingSetUnevictable(s: LruState, mapping: object): void {
  checkMapping(mapping, 'mappingSetUnevictable');
  if (s.unevictableMappings === null) s.unevictableMappings = new WeakSet();
  s.unevictableMappings.add(mapping);
  s.unevictableMarks++;
}

/** `mapping_clear_unevictable` (include/linux/pagemap.h, 6.3): clear AS_UNEVICTABLE. */
export function mappingClearUnevictable(s: LruState, mapping: object): void {
  checkMapping(mapping, 'mappingClearUnevictable');
  s.unevictableMappings?.delete(mapping);
}

/** `mapping_unevictable` (include/linux/pagemap.h, 6.3). */
export function mappingUnevictable(s: LruState, mapping: object | null): boolean {
  return mapping !== null && s.unevictableMappings?.has(mapping) === true;
}
