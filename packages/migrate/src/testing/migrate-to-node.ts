import type { Folio, FolioList } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import type { MigrationTargetControl } from '../alloc-migration-target.js';
import type { NewFolioFn } from '../callbacks.js';
import type { MigratePagesResult } from '../migrate-core.js';
import type { MigrateMode } from '../modes.js';
import type { MigrateReason } from '../reasons.js';
import type { MigrateMachine } from './machine.js';

/**
 * `migrate_pages(list, alloc_migration_target, NULL, {nid, __GFP_THISNODE}, mode, reason)`,
 * the call move_pages(2) makes (mm/migrate.c, Linux 6.3, `do_move_pages_to_node`).
 */
export function migrateToNode(
  m: MigrateMachine,
  list: FolioList,
  nid: number,
  mode: MigrateMode,
  reason: MigrateReason,
): KernelGen<MigratePagesResult> {
  return m.core.migratePages(
    list,
    m.core.allocMigrationTarget,
    null,
    { nid, thisNode: true },
    mode,
    reason,
  );
}

/** An allocation callback that records every call and then asks `allocMigrationTarget`. */
export function countingAlloc(m: MigrateMachine): {
  readonly fn: NewFolioFn<MigrationTargetControl>;
  readonly calls: Folio[];
  readonly dsts: Folio[];
} {
  const calls: Folio[] = [];
  const dsts: Folio[] = [];
  const fn: NewFolioFn<MigrationTargetControl> = (src, mtc) => {
    calls.push(src);
    const dst = m.core.allocMigrationTarget(src, mtc);
    if (dst !== null) dsts.push(dst);
    return dst;
  };
  return { fn, calls, dsts };
}
