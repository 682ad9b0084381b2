import { allocMisplacedDstFolio, migrateMisplacedFolio } from '@mmsim/callers';
import { folioNid, folioTestAnon, pfnFolio } from '@mmsim/folio';
import type { Actor, Kernel } from '@mmsim/kernel';
import type { MmView } from '@mmsim/rmap';
import { type KernelGen, MmsimError, type Task } from '@mmsim/runtime';
import type { MigrateCallLedger } from '../invariants/migrate-calls.js';

export { allocMisplacedDstFolio };

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
 * A NUMA-hinting fault on `addr` that finds its anonymous folio misplaced and migrates it
 * to `target`: `do_numa_page` -> `migrate_misplaced_page/folio(folio, vma, node)`
 * (mm/memory.c, mm/migrate.c, 6.3; 6.10; 6.11), through @mmsim/callers'
 * `migrateMisplacedFolio` (isolation refusals, MIGRATE_ASYNC, MR_NUMA_MISPLACED, putback
 * by variant, counters). Unlike the fault path (`NumaBalancing.install`), the actor names
 * its target node and also takes large folios, for the scenarios that drive one migration.
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
  const res = { rc: null as number | null, listLeft: 0, leftAfterPutback: 0 };
  return {
    name,
    cpu: options.cpu,
    models:
      'do_numa_page -> migrate_misplaced_folio: numamigrate_isolate_folio, migrate_pages(MIGRATE_ASYNC, MR_NUMA_MISPLACED), putback (mm/migrate.c, 6.10; 6.11)',
    *body(_task: Task): KernelGen {
      const mem = k.mem;
      const pfn = k.vm.followPage(mm, addr);
      if (pfn < 0) return;
      const folio = pfnFolio(mem, pfn);
      if (folio < 0 || !folioTestAnon(mem, folio) || folioNid(mem, folio) === target) return;
      res.rc = null;
      const vma = mm.vmaLookup(addr);
      yield* migrateMisplacedFolio(k, folio, target, alloc, {
        vmFlags: vma?.flags ?? 0,
        result: res,
      });
      if (res.rc === null) return;
      if (options.result !== undefined) options.result.rc = res.rc;
      ledger?.migratePagesReturned(name, res.rc, res.listLeft);
      ledger?.isolationEnded(name, res.leftAfterPutback);
    },
  };
}
