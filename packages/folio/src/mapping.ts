import { checkInt, MmsimError } from '@mmsim/runtime';
import { PG_slab, PG_swapbacked, PG_swapcache } from './flags.js';
import {
  type Folio,
  FRAME_HEAD,
  folioError,
  getMappingObj,
  memmapOf,
  type PhysicalMemory,
  type SwapAddressSpaceResolver,
  setMappingObj,
} from './memmap.js';

/**
 * `folio->mapping` and `folio->index` (include/linux/page-flags.h, mm/util.c, Linux 6.3).
 * The kernel tags the low two bits of the mapping pointer with the kind of object it points
 * at; the model keeps those bits in a Uint8Array and the object in a plain array.
 */

/** Bit 0: `mapping` points at an `anon_vma` (anonymous memory). */
export const PAGE_MAPPING_ANON = 0x1;
/** Bit 1: `mapping` points at the `movable_operations` of a non-LRU movable page. */
export const PAGE_MAPPING_MOVABLE = 0x2;
/** Both bits (PAGE_MAPPING_ANON | PAGE_MAPPING_MOVABLE): `mapping` points at a KSM stable node. */
export const PAGE_MAPPING_KSM = 0x3;
/** The tag bits. 0 means an `address_space` (page cache), or no mapping at all. */
export const PAGE_MAPPING_FLAGS = 0x3;

/** 0 (page cache or none), PAGE_MAPPING_ANON, PAGE_MAPPING_MOVABLE or PAGE_MAPPING_KSM. */
export type MappingKind = 0 | 1 | 2 | 3;

/**
 * Sets `folio->mapping`: kind 0 with an address-space object for a page-cache folio (or
 * null to clear the mapping), PAGE_MAPPING_ANON with the anon_vma, PAGE_MAPPING_MOVABLE
 * with the movable_operations (`__SetPageMovable`), PAGE_MAPPING_KSM with the stable node.
 */
export function folioSetMapping(
  mem: PhysicalMemory,
  folio: Folio,
  kind: MappingKind,
  object: object | null,
): void {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  if (kind !== 0 && kind !== 1 && kind !== 2 && kind !== 3) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `mapping kind must be 0, PAGE_MAPPING_ANON, PAGE_MAPPING_MOVABLE or PAGE_MAPPING_KSM, got ${String(kind)}`,
    );
  }
  if (object !== null && typeof object !== 'object' && typeof object !== 'function') {
    throw new MmsimError('INVALID_ARGUMENT', 'the mapping object must be an object or null');
  }
  if (kind !== 0 && object === null) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `mapping kind ${kind} needs its object (anon_vma, movable_operations or stable node); only kind 0 may be null`,
    );
  }
  if (folio === m.zeroPfn) {
    throw new MmsimError('CONTRACT_VIOLATION', 'the shared zero page never gets a mapping');
  }
  m.mappingKind[folio] = kind;
  m.rmapWritten[folio] = 1;
  setMappingObj(m, folio, object);
}

/** The tag bits of `folio->mapping` (`(unsigned long)folio->mapping & PAGE_MAPPING_FLAGS`). */
export function folioMappingKind(mem: PhysicalMemory, folio: Folio): MappingKind {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  return m.mappingKind[folio] as MappingKind;
}

/** The object `folio->mapping` points at, whatever its kind (`folio_raw_mapping`). */
export function folioRawMapping(mem: PhysicalMemory, folio: Folio): object | null {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  return getMappingObj(m, folio);
}

/** `folio_test_anon`: bit 0 of the mapping is set (anonymous or KSM). */
export function folioTestAnon(mem: PhysicalMemory, folio: Folio): boolean {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  return (m.mappingKind[folio]! & PAGE_MAPPING_ANON) !== 0;
}

/** `folio_test_ksm`: both tag bits set. */
export function folioTestKsm(mem: PhysicalMemory, folio: Folio): boolean {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  return m.mappingKind[folio] === PAGE_MAPPING_KSM;
}

/** `__folio_test_movable`: the tag is exactly PAGE_MAPPING_MOVABLE (a non-LRU movable page). */
export function folioTestMovable(mem: PhysicalMemory, folio: Folio): boolean {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  return m.mappingKind[folio] === PAGE_MAPPING_MOVABLE;
}

/**
 * `folio_mapping` (6.3): the address_space of a page-cache folio; the swap cache's for a
 * folio in the swap cache; null for anonymous, KSM and movable folios and for slab pages.
 * The swap cache's address space comes from the resolver a swap layer registers with
 * `registerSwapAddressSpace`; without one, a swap-cache folio throws CONTRACT_VIOLATION.
 */
export function folioMapping(mem: PhysicalMemory, folio: Folio): object | null {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  const f = m.flags[folio]!;
  if ((f & (1 << PG_slab)) !== 0) return null;
  if ((f & (1 << PG_swapbacked)) !== 0 && (f & (1 << PG_swapcache)) !== 0) {
    const resolve = m.swapAddressSpace;
    if (resolve === null) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `folio ${folio} is in the swap cache but no swap address space is registered (registerSwapAddressSpace)`,
      );
    }
    return resolve(mem, folio);
  }
  if (m.mappingKind[folio] !== 0) return null;
  return getMappingObj(m, folio);
}

/**
 * The hook for `swap_address_space(folio_swap_entry(folio))`: a swap layer registers the
 * function that maps a swap-cache folio (its swap entry is in `folioGetPrivate`) to the
 * swap cache's address-space object. Pass null to unregister.
 */
export function registerSwapAddressSpace(
  mem: PhysicalMemory,
  resolver: SwapAddressSpaceResolver | null,
): void {
  if (resolver !== null && typeof resolver !== 'function') {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      'the swap address space resolver must be a function or null',
    );
  }
  memmapOf(mem).swapAddressSpace = resolver;
}

/** `folio->index`: the page-cache offset (file) or linear page index (anon) of the head. */
export function folioIndex(mem: PhysicalMemory, folio: Folio): number {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  return m.index[folio]!;
}

/** Sets `folio->index` (a non-negative integer below 2^53). */
export function folioSetIndex(mem: PhysicalMemory, folio: Folio, index: number): void {
  const m = memmapOf(mem);
  if (m.state[folio] !== FRAME_HEAD) throw folioError(m, folio);
  // The check's call only for a bad value: a good one stays an unboxed number here.
  if (!(index >= 0 && index <= Number.MAX_SAFE_INTEGER && Math.floor(index) === index)) {
    checkInt('index', index, 0, Number.MAX_SAFE_INTEGER);
  }
  m.index[folio] = index;
  m.rmapWritten[folio] = 1;
}
