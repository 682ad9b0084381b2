import type { Folio } from '@mmsim/folio';

/** `0x1200`: how the package names a folio in messages and lock classes. */
export function hex(folio: Folio): string {
  return Number.isInteger(folio) && folio >= 0 ? `0x${folio.toString(16)}` : String(folio);
}
