import { type Folio, folioGet } from '@mmsim/folio';
import { FP_FOLIO, FP_PCP, type KernelGen } from '@mmsim/runtime';
import type { FolioBatch } from './folio-batch.js';
import { folioPutFast, folioPutSlow } from './folio-put.js';
import { checkAddable, drainBatch, queueFolio } from './lru-add.js';
import { type LruState, requireTask } from './lru-state.js';

/**
 * `folio_putback_lru` (mm/vmscan.c, Linux 6.3): `folio_add_lru(folio)`, then `folio_put`
 * to drop the reference that isolation took. The folio goes back through this CPU's
 * lru_add batch, so it is not on a list (and cannot be isolated) until the batch moves;
 * `lru_add_fn` then re-decides PG_unevictable (an isolated unevictable folio that was
 * munlocked meanwhile goes back to an evictable list) and keeps PG_active.
 *
 * Misuse (CONTRACT_VIOLATION, nothing changed): the folio has PG_lru, is on a list or in
 * a batch, has refcount 0, or has PG_active together with PG_unevictable. If the
 * isolation reference turns out to be the last one, the folio is taken off the LRU again
 * and freed, as `folio_put` would.
 */
export function* folioPutbackLru(s: LruState, folio: Folio): KernelGen {
  checkAddable(s, folio, 'folioPutbackLru');
  const mem = s.mem;
  const b = s.batches[requireTask(s).cpu.id] as FolioBatch;
  s.rt.touchKernel(FP_FOLIO, folio, true); // a reference, then into this CPU's lru_add batch
  s.rt.touchKernel(FP_PCP, b.cpu, true);
  folioGet(mem, folio);
  if (queueFolio(s, b, folio)) yield* drainBatch(s, b);
  if (!folioPutFast(mem, folio, 1)) yield* folioPutSlow(s, folio);
}
