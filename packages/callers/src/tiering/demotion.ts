import {
  type Folio,
  FolioList,
  folioAlloc,
  folioNid,
  folioNrPages,
  folioOrder,
  folioPut,
  folioTryGet,
} from '@mmsim/folio';
import type { Actor, Kernel } from '@mmsim/kernel';
import { LRU_INACTIVE_ANON, LRU_INACTIVE_FILE } from '@mmsim/lru';
import { MIGRATE_ASYNC, MR_DEMOTION, type NewFolioFn } from '@mmsim/migrate';
import { type KernelGen, MmsimError, type Task, VmEvent } from '@mmsim/runtime';
import type { DemotionTargets } from './demotion-targets.js';

/**
 * `alloc_demote_page(page, node)` (mm/vmscan.c, 6.3): first on the preferred target only
 * (`__GFP_THISNODE`), then, `__GFP_THISNODE` off, on the allowed lower-tier nodes
 * (`mtc->nmask = allowed_mask`), which the model tries nearest first. No reclaim
 * (GFP_NOWAIT): none when all are full.
 */
export function allocDemoteFolio(
  k: Kernel,
  targets: readonly DemotionTargets[],
): NewFolioFn<number> {
  return (src, nid) => {
    const order = folioOrder(k.mem, src);
    const first = folioAlloc(k.mem, order, nid, { thisNode: true });
    if (first >= 0) return first;
    const allowed = targets[folioNid(k.mem, src)]?.allowed ?? [];
    for (const t of allowed) {
      if (t === nid) continue;
      const f = folioAlloc(k.mem, order, t, { thisNode: true });
      if (f >= 0) return f;
    }
    return null;
  };
}

/** What `demoteFolioList` did. */
export interface DemotionResult {
  /** Base pages demoted (`nr_succeeded`). */
  demoted: number;
  /** Folios that stayed (put back on the LRU: the model has no swap to reclaim them to). */
  stayed: number;
}

/**
 * `demote_folio_list(demote_folios, pgdat)` (mm/vmscan.c, 6.3) for folios already isolated
 * from `nid`'s LRU: `migrate_pages(demote_folios, alloc_demote_page, NULL, target_nid,
 * MIGRATE_ASYNC, MR_DEMOTION)` to the node's first preferred target; `pgdemote_kswapd` or
 * `pgdemote_direct` (vm events in 6.3, per node from 6.8) += pages migrated. What is left
 * would be reclaimed by `shrink_folio_list`; the model has no swap, so it is put back
 * (`putback_movable_pages`) and stays on the fast node.
 */
export function* demoteFolioList(
  k: Kernel,
  list: FolioList,
  nid: number,
  targets: readonly DemotionTargets[],
  alloc: NewFolioFn<number>,
  kswapd: boolean,
): KernelGen<DemotionResult> {
  const target = targets[nid]?.preferred[0];
  if (target === undefined || list.isEmpty()) {
    const stayed = list.size;
    if (stayed > 0) yield* k.migrate.putbackMovablePages(list);
    return { demoted: 0, stayed };
  }
  const { stats } = yield* k.migrate.migratePages(
    list,
    alloc,
    null,
    target,
    MIGRATE_ASYNC,
    MR_DEMOTION,
  );
  k.vmstat.countVmEvents(
    kswapd ? VmEvent.PGDEMOTE_KSWAPD : VmEvent.PGDEMOTE_DIRECT,
    stats.nrSucceeded,
  );
  const stayed = list.size;
  if (stayed > 0) yield* k.migrate.putbackMovablePages(list);
  return { demoted: stats.nrSucceeded, stayed };
}

/** Options of `kswapdDemote`. */
export interface KswapdDemoteOptions {
  /** Default `kswapd<nid>`. */
  readonly name?: string;
  readonly cpu: number;
  /** The node reclaimed (a top-tier node). */
  readonly nid: number;
  /** From `establishDemotionTargets`. */
  readonly targets: readonly DemotionTargets[];
  /** Folios taken from the tail of the node's inactive lists per round. Default 32. */
  readonly batch?: number;
  /** Rounds. Default 1. */
  readonly rounds?: number;
  /** `kswapd` (pgdemote_kswapd, default) or direct reclaim (pgdemote_direct). */
  readonly direct?: boolean;
  /** Filled in. */
  readonly result?: DemotionResult;
}

/**
 * A reclaimer of `nid` that demotes instead of reclaiming (`kswapd` / direct reclaim ->
 * `shrink_folio_list` -> `demote_folio_list`, mm/vmscan.c, 6.3), reduced to what the
 * migration sees: per round, up to `batch` folios from the tail of the node's inactive
 * anon and file lists (the coldest), isolated from the LRU, then `demoteFolioList`. No
 * watermarks, no aging, no referenced check: the caller decides when it runs.
 */
export function kswapdDemote(k: Kernel, options: KswapdDemoteOptions): Actor {
  const { nid, targets } = options;
  if (!Number.isInteger(nid) || nid < 0 || nid >= k.nrNodes) {
    throw new MmsimError('INVALID_CONFIG', `kswapd: no node ${String(nid)}`);
  }
  const batch = options.batch ?? 32;
  const rounds = options.rounds ?? 1;
  const kswapd = options.direct !== true;
  const alloc = allocDemoteFolio(k, targets);
  const result = options.result ?? { demoted: 0, stayed: 0 };
  return {
    name: options.name ?? (kswapd ? `kswapd${nid}` : `direct-reclaim${nid}`),
    cpu: options.cpu,
    models: 'shrink_folio_list -> demote_folio_list (mm/vmscan.c, 6.3): MIGRATE_ASYNC, MR_DEMOTION',
    *body(_task: Task): KernelGen {
      const mem = k.mem;
      for (let r = 0; r < rounds; r++) {
        const list = new FolioList(mem);
        for (const lru of [LRU_INACTIVE_ANON, LRU_INACTIVE_FILE]) {
          const folios = k.lruView.listFolios(nid, lru);
          for (let i = folios.length - 1; i >= 0 && list.size < batch; i--) {
            const folio: Folio = folios[i]!;
            if (!folioTryGet(mem, folio)) continue; // freed since the list was read
            if (yield* k.lru.folioIsolateLru(folio)) {
              list.addTail(folio);
              k.lru.nodeStatModFolio(
                folio,
                k.lru.folioIsolatedItem(folio),
                folioNrPages(mem, folio),
              );
              folioPut(mem, folio); // the isolation holds its own reference
            } else {
              yield* k.lru.folioPut(folio);
            }
          }
        }
        const r1 = yield* demoteFolioList(k, list, nid, targets, alloc, kswapd);
        result.demoted += r1.demoted;
        result.stayed += r1.stayed;
        yield;
      }
    },
  };
}
