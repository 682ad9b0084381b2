import type { Folio } from '@mmsim/folio';
import { GOLDEN_RATIO_32, PAGE_WAIT_TABLE_BITS, WAIT_TABLE_BITS } from './constants.js';

/** `hash_32(val, bits)` (include/linux/hash.h, 6.3): the top `bits` bits of val * 0x61c88647. */
export function hash32(val: number, bits: number): number {
  return Math.imul(val | 0, GOLDEN_RATIO_32) >>> (32 - bits);
}

/**
 * Index of a folio's queue in the folio wait table: `folio_waitqueue` (mm/filemap.c, 6.3)
 * hashes the folio pointer with `hash_ptr(folio, PAGE_WAIT_TABLE_BITS)`; the model hashes
 * the head pfn with `hash_32`. Folios with the same index share a queue, and their waiters
 * are told apart by the (folio, bit) key.
 */
export function folioWaitTableIndex(folio: Folio): number {
  return hash32(folio, PAGE_WAIT_TABLE_BITS);
}

/**
 * Index of a bit's queue in the bit wait table: `bit_waitqueue(word, bit)`
 * (kernel/sched/wait_bit.c, 6.3) hashes `word << 6 | bit` with `hash_long`; the model uses a
 * small number per word (a buffer head's id) in place of its address.
 */
export function bitWaitTableIndex(word: number, bit: number): number {
  return hash32(((word << 6) | bit) >>> 0, WAIT_TABLE_BITS);
}
