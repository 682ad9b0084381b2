import { type Folio, FolioList, folioGet, folioNrPages, folioPut } from '@mmsim/folio';
import type { MigrateMode } from '@mmsim/migrate';
import type { KernelGen } from '@mmsim/runtime';
import { expect } from 'vitest';
import type { Kernel } from '../src/index.js';

/** Isolates `folio` as move_pages does and migrates it to `nid`; returns the rc. */
export function* migrateOne(
  k: Kernel,
  folio: Folio,
  nid: number,
  mode: MigrateMode,
  reason: number,
): KernelGen<number> {
  const mem = k.mem;
  const list = new FolioList(mem);
  folioGet(mem, folio);
  expect(yield* k.lru.folioIsolateLru(folio)).toBe(true);
  k.lru.nodeStatModFolio(folio, k.lru.folioIsolatedItem(folio), folioNrPages(mem, folio));
  folioPut(mem, folio);
  list.addTail(folio);
  const result = yield* k.migrate.migratePages(
    list,
    k.migrate.allocMigrationTarget,
    null,
    { nid, thisNode: true },
    mode,
    reason as never,
  );
  if (list.size > 0) yield* k.migrate.putbackMovablePages(list);
  return result.rc;
}
