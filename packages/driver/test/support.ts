import { type Folio, FolioList, folioAlloc, folioPut } from '@mmsim/folio';
import { createKernel, type Kernel } from '@mmsim/kernel';
import {
  ISOLATE_ASYNC_MIGRATE,
  MIGRATE_SYNC,
  type MigrateMode,
  type MigratePagesResult,
  MR_COMPACTION,
  type VariantName,
} from '@mmsim/migrate';
import type { KernelGen } from '@mmsim/runtime';

/** A two-node machine. */
export function twoNodes(variant: VariantName = 'v6.3', seed = 1): Kernel {
  return createKernel({ nodes: [{ pages: 512 }, { pages: 512 }], variant, seed });
}

/**
 * What compaction does to a driver's pages, in one pass: `isolate_movable_page` on each,
 * `migrate_pages` to node `target`, `putback_movable_pages` for what is left.
 */
export function* migrateAll(
  k: Kernel,
  pages: () => readonly Folio[],
  target: number,
  mode: MigrateMode = MIGRATE_SYNC,
): KernelGen<{ isolated: number; result: MigratePagesResult | null }> {
  const list = new FolioList(k.mem);
  let isolated = 0;
  for (const folio of pages()) {
    if (k.migrate.isolateMovablePage(folio, ISOLATE_ASYNC_MIGRATE)) {
      list.addTail(folio);
      isolated++;
    }
  }
  if (list.size === 0) return { isolated, result: null };
  const result = yield* migrateList(k, list, target, mode);
  return { isolated, result };
}

/** `migrate_pages` of an isolation list to node `target`, then the putback of what is left. */
export function* migrateList(
  k: Kernel,
  list: FolioList,
  target: number,
  mode: MigrateMode = MIGRATE_SYNC,
): KernelGen<MigratePagesResult> {
  const result = yield* k.migrate.migratePages(
    list,
    (_src, nid) => {
      const dst = folioAlloc(k.mem, 0, nid, { thisNode: true });
      return dst < 0 ? null : dst;
    },
    (dst) => folioPut(k.mem, dst),
    target,
    mode,
    MR_COMPACTION,
  );
  if (list.size > 0) yield* k.migrate.putbackMovablePages(list);
  return result;
}
