import {
  type Folio,
  folioNrPages,
  folioOnList,
  folioRefCount,
  folioTestHugetlb,
  pfnFolio,
  pfnValid,
} from '@mmsim/folio';
import { MmsimError } from '@mmsim/runtime';
import { callDriver, DriverCallbackError } from './errors.js';
import type { MigrateEnv } from './migrate-env.js';

/**
 * `new_page_t` / `new_folio_t`: allocate the destination for `src`, of the same size
 * (6.3 passes pages; 6.5 converted the callbacks to folios). Returns the new folio, holding
 * the one reference the caller gets, or null when there is no memory (which makes the
 * migration return -ENOMEM). A plain function in the model: the allocation does not sleep.
 */
export type NewFolioFn<P = unknown> = (src: Folio, priv: P) => Folio | null;

/**
 * `free_page_t` / `free_folio_t`: take back a destination that was not used (compaction
 * returns it to its free list). When the caller passes none, the core drops the
 * reference with `folio_put`.
 */
export type FreeFolioFn<P = unknown> = (dst: Folio, priv: P) => void;

/** The allocation callbacks of one `migrate_pages()` call and their `private` argument. */
export interface MigrateCallbacks {
  readonly getNewFolio: NewFolioFn<unknown>;
  readonly putNewFolio: FreeFolioFn<unknown> | null;
  readonly priv: unknown;
}

const CALLER = 'migrate_pages caller';

/**
 * Calls `get_new_page(src, private)`: null (or a negative errno) means no memory. A
 * callback that throws becomes a `DriverCallbackError`; one that returns something that is
 * not a free-to-use folio of src's size throws CONTRACT_VIOLATION (the kernel would
 * corrupt memory).
 */
export function callGetNewFolio(env: MigrateEnv, cb: MigrateCallbacks, src: Folio): Folio | null {
  let dst: Folio | null;
  try {
    dst = cb.getNewFolio(src, cb.priv);
  } catch (error) {
    if (error instanceof DriverCallbackError) throw error;
    throw new DriverCallbackError(CALLER, 'get_new_page', error);
  }
  if (dst === null || (typeof dst === 'number' && dst < 0)) return null;
  // The core's own `alloc_migration_target` returns a fresh folio of src's size (or a
  // hugetlb pool folio on the active list) by construction: its result needs no checks.
  if (cb.getNewFolio === env.builtinNewFolio) return dst;
  const mem = env.mem;
  if (typeof dst !== 'number' || !pfnValid(mem, dst) || pfnFolio(mem, dst) !== dst) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `get_new_page returned ${String(dst)}, which is not the head of a live folio (return a folio, or null for no memory)`,
    );
  }
  if (dst === src || folioNrPages(mem, dst) !== folioNrPages(mem, src)) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `get_new_page returned folio ${dst} of ${folioNrPages(mem, dst)} pages for folio ${src} of ${folioNrPages(mem, src)}: the destination must be a new folio of the same size`,
    );
  }
  // A locked dst is allowed: migrate_folio_unmap only trylocks it ("a race with the
  // previous use of dst", mm/migrate.c), and gives -EAGAIN.
  const onList = folioOnList(mem, dst);
  if (
    folioRefCount(mem, dst) < 1 ||
    (onList !== null && !(folioTestHugetlb(mem, dst) && onList === env.hstate.activelist))
  ) {
    throw new MmsimError(
      'CONTRACT_VIOLATION',
      `get_new_page returned folio ${dst}, which is in use (on a list, or without a reference)`,
    );
  }
  return dst;
}

/** Calls `put_new_page(dst, private)`; a throw becomes a `DriverCallbackError`. */
export function callPutNewFolio(cb: MigrateCallbacks, dst: Folio): void {
  const put = cb.putNewFolio;
  if (put !== null) callDriver(CALLER, 'put_new_page', () => put(dst, cb.priv));
}
