import { type Folio, folioIndex, type PhysicalMemory } from '@mmsim/folio';
import { folioAddressSpace } from '@mmsim/rmap';
import type { LOCK_CLASS_MODES } from './config-schema.js';

/** How the page-lock dependency checker names the lock class of a folio. */
export type LockClassMode = (typeof LOCK_CLASS_MODES)[number];

/**
 * The `classOf` the kernel gives the page-lock dependency checker.
 *
 * - `'folio'`: one class per frame (`folio 0x1200`), the checker's own default. Frames are
 *   reused, so over a long run two unrelated folios can share a class.
 * - `'page-cache-index'` (the kernel's default): a page-cache folio is named by what it
 *   caches, `backing.img[3]`, at the time it is locked; anything else (anonymous memory, a
 *   freshly allocated migration destination, a movable page) by its frame. A folio that
 *   migration replaces keeps its class, so a lock order seen before a migration still
 *   counts after it, as lockdep's classes outlive instances; and a frame freed and
 *   reused for another file gets that file's class.
 */
export function lockClassOf(mem: PhysicalMemory, mode: LockClassMode): (folio: Folio) => string {
  const byFrame = (folio: Folio): string => `folio 0x${folio.toString(16)}`;
  if (mode === 'folio') return byFrame;
  return (folio: Folio): string => {
    const as = folioAddressSpace(mem, folio);
    return as === null ? byFrame(folio) : `${as.name}[${folioIndex(mem, folio)}]`;
  };
}
