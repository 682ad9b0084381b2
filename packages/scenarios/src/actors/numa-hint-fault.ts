import {
  type Folio,
  FolioList,
  folioAlloc,
  folioNid,
  folioNrPages,
  folioOrder,
  folioTestAnon,
  nodeStats,
  pfnFolio,
} from '@mmsim/folio';
import type { Actor, Kernel } from '@mmsim/kernel';
import { MIGRATE_ASYNC, MR_NUMA_MISPLACED, type NewFolioFn } from '@mmsim/migrate';
import type { MmView } from '@mmsim/rmap';
import { type KernelGen, MmsimError, type Task } from '@mmsim/runtime';
import type { MigrateCallLedger } from '../invariants/migrate-calls.js';
import { isolateForMigration } from './migrator.js';

/** Options of `numaHintFault`. */
export interface NumaHintFaultOptions {
  /** Default `numa-fault`. */
  readonly name?: string;
  readonly cpu: number;
  /** The faulting thread's process and the address of the hinting fault. */
  readonly mm: MmView;
  readonly addr: number;
  /** The node the task runs on, where the folio is misplaced from the policy's view. */
  readonly target: number;
  /** Where to report the `migrate_pages()` result and the leftovers. */
  readonly ledger?: MigrateCallLedger;
  /** Filled in: the `migrate_pages()` result, or null when nothing was isolated. */
  readonly result?: { rc: number | null };
}

/**
 * `alloc_misplaced_dst_folio(src, node)` (mm/migrate.c, 6.10): a folio of src's order on
 * the target node only (`__GFP_THISNODE`, no reclaim for order 0), or none.
 */
export function allocMisplacedDstFolio(k: Kernel): NewFolioFn<number> {
  return (src, nid) => {
    const folio = folioAlloc(k.mem, folioOrder(k.mem, src), nid, { thisNode: true });
    return folio < 0 ? null : folio;
  };
}

/**
 * A NUMA-hinting fault on `addr` that finds its folio misplaced and migrates it to the
 * faulting task's node: `do_numa_page` -> `migrate_misplaced_folio(folio, vma, node)`
 * (mm/memory.c, mm/migrate.c, 6.10):
 *
 * - `numamigrate_isolate_folio`: nothing unless `migrate_balanced_pgdat(pgdat, nr_pages)`
 *   (the target node has room for the whole folio; the model has no watermarks, so room
 *   means `nr_pages` free pages), then `folio_isolate_lru` and NR_ISOLATED += nr_pages;
 * - `migrate_pages(&migratepages, alloc_misplaced_dst_folio, NULL, node, MIGRATE_ASYNC,
 *   MR_NUMA_MISPLACED)`;
 * - on a nonzero result with the list not empty: up to 6.10, `list_del(&folio->lru)`,
 *   NR_ISOLATED -= the folio's `nr_pages` as counted before the call, `folio_putback_lru`:
 *   only the folio it isolated, which is all there was before 6.10 (MR_NUMA_MISPLACED never
 *   split); with the variant's `numaHintPutsBackList` (6e49019db5f7, 6.11-rc1)
 *   `putback_movable_pages(&migratepages)`: the pieces a 6.10 deferred split left there too.
 */
export function numaHintFault(k: Kernel, options: NumaHintFaultOptions): Actor {
  const { mm, addr, target, ledger } = options;
  if (!Number.isInteger(target) || target < 0 || target >= k.nrNodes) {
    throw new MmsimError(
      'INVALID_CONFIG',
      `actor ${options.name ?? 'numa-fault'} targets node ${String(target)}, but the machine has nodes 0..${k.nrNodes - 1}`,
    );
  }
  const name = options.name ?? 'numa-fault';
  const alloc = allocMisplacedDstFolio(k);
  return {
    name,
    cpu: options.cpu,
    models:
      'do_numa_page -> migrate_misplaced_folio: numamigrate_isolate_folio, migrate_pages(MIGRATE_ASYNC, MR_NUMA_MISPLACED), putback (mm/migrate.c, 6.10; 6.11)',
    *body(_task: Task): KernelGen {
      const mem = k.mem;
      const pfn = k.vm.followPage(mm, addr);
      if (pfn < 0) return;
      const folio: Folio = pfnFolio(mem, pfn);
      if (folio < 0 || !folioTestAnon(mem, folio) || folioNid(mem, folio) === target) return;
      const nrPages = folioNrPages(mem, folio);
      // migrate_balanced_pgdat: avoid migrating to a node that is nearly full.
      if (nodeStats(mem, target).freePages < nrPages) return;
      const list = new FolioList(mem);
      if (!(yield* isolateForMigration(k, folio, list, MIGRATE_ASYNC))) return;
      const { rc } = yield* k.migrate.migratePages(
        list,
        alloc,
        null,
        target,
        MIGRATE_ASYNC,
        MR_NUMA_MISPLACED,
      );
      if (options.result !== undefined) options.result.rc = rc;
      ledger?.migratePagesReturned(name, rc, list.size);
      if (rc !== 0 && !list.isEmpty()) {
        if (k.variant.numaHintPutsBackList) {
          yield* k.migrate.putbackMovablePages(list);
        } else {
          // The pre-6.11 code: the folio it isolated is assumed to be all there is.
          list.del(folio);
          k.lru.nodeStatModFolio(folio, k.lru.folioIsolatedItem(folio), -nrPages);
          yield* k.lru.folioPutbackLru(folio);
        }
      }
      ledger?.isolationEnded(name, list.size);
    },
  };
}
