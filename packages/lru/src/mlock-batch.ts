import type { Folio } from '@mmsim/folio';

/** A `mlock_fbatch` entry without tag: `munlock_folio` (mm/mlock.c, 6.3). */
export const MLOCK_MUNLOCK = 0;
/** `LRU_FOLIO`: `mlock_folio` of a folio that may be on an LRU list. */
export const MLOCK_LRU_FOLIO = 1;
/** `NEW_FOLIO`: `mlock_new_folio` of a folio not yet on any LRU list. */
export const MLOCK_NEW_FOLIO = 2;

/**
 * One CPU's `mlock_fbatch`: entries `folio * 4 + kind`, each holding a folio reference.
 * A drain detaches the entries first (`inFlight`), so that the invariant checker still
 * sees them while the drain waits for an `lru_lock`.
 */
export class MlockBatch {
  readonly cpu: number;
  entries: number[] = [];
  readonly inFlight: number[][] = [];

  constructor(cpu: number) {
    this.cpu = cpu;
  }

  /** Whether `folio` has an entry of `kind` here (queued or being drained). */
  has(folio: Folio, kind: number): boolean {
    const e = folio * 4 + kind;
    if (this.entries.includes(e)) return true;
    for (const list of this.inFlight) if (list.includes(e)) return true;
    return false;
  }
}
