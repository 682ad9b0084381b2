import { type Folio, type FolioList, folioNrPages } from '@mmsim/folio';
import type { MigrateEnv } from './migrate-env.js';

/**
 * The start of the journeys of the isolated folios handed to `migrate_pages()` (model
 * events, see `MMSIM_FOLIO_ISOLATED`): emitted only when someone listens, so an untraced
 * call walks nothing.
 */
export function traceFoliosIsolated(env: MigrateEnv, from: FolioList): void {
  const tp = env.tp.folioIsolated;
  if (!tp.enabled) return;
  for (const folio of from) tp.emit({ pfn: folio, nr_pages: folioNrPages(env.mem, folio) });
}

/** The end of `folio`'s journey: freed after its move, or put back (`MMSIM_FOLIO_DONE`). */
export function traceFolioDone(env: MigrateEnv, folio: Folio, fate: 'freed' | 'putback'): void {
  const tp = env.tp.folioDone;
  if (tp.enabled) tp.emit({ pfn: folio, nr_pages: folioNrPages(env.mem, folio), fate });
}
