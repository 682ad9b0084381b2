import {
  FolioList,
  memoryAttachment,
  populatedZone,
  setMemoryAttachment,
  ZONE_MOVABLE,
  ZONE_NAMES,
  ZONE_NORMAL,
  zoneEndPfn,
  zoneStartPfn,
} from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import { MIGRATE_ASYNC, type MigrateMode } from '@mmsim/migrate';
import { MmsimError } from '@mmsim/runtime';

/**
 * Compaction's vocabulary (include/linux/compaction.h, mm/internal.h, mm/compaction.c,
 * Linux 6.3): results, priorities, the per-call `struct compact_control`, and the per-zone
 * state the scanners keep between calls, per zone: a node has a ZONE_NORMAL and, with
 * `movablePages`, a ZONE_MOVABLE above it (packages/folio/src/zone.ts); a node without
 * ZONE_MOVABLE is one ZONE_NORMAL spanning the whole node.
 */

/** `enum compact_result` (include/linux/compaction.h, 6.3), in the kernel's order. */
export const COMPACT_NOT_SUITABLE_ZONE = 0;
export const COMPACT_SKIPPED = 1;
export const COMPACT_DEFERRED = 2;
export const COMPACT_NO_SUITABLE_PAGE = 3;
export const COMPACT_CONTINUE = 4;
export const COMPACT_COMPLETE = 5;
export const COMPACT_PARTIAL_SKIPPED = 6;
export const COMPACT_CONTENDED = 7;
export const COMPACT_SUCCESS = 8;
export type CompactResult = number;

/** `compaction_status_string` (include/trace/events/compaction.h, 6.3), by result. */
export const COMPACT_RESULT_NAMES: readonly string[] = Object.freeze([
  'not_suitable_zone',
  'skipped',
  'deferred',
  'no_suitable_page',
  'continue',
  'complete',
  'partial_skipped',
  'contended',
  'success',
]);

/** `enum compact_priority` (include/linux/compaction.h, 6.3): lower is more thorough. */
export const COMPACT_PRIO_SYNC_FULL = 0;
export const MIN_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_FULL;
export const COMPACT_PRIO_SYNC_LIGHT = 1;
export const MIN_COMPACT_COSTLY_PRIORITY = COMPACT_PRIO_SYNC_LIGHT;
export const DEF_COMPACT_PRIORITY = COMPACT_PRIO_SYNC_LIGHT;
export const COMPACT_PRIO_ASYNC = 2;
export const INIT_COMPACT_PRIORITY = COMPACT_PRIO_ASYNC;

/** `enum isolate_migrate_t` (mm/compaction.c, 6.3). */
export const ISOLATE_ABORT = 0;
export const ISOLATE_NONE = 1;
export const ISOLATE_SUCCESS = 2;

/** `COMPACT_CLUSTER_MAX` = `SWAP_CLUSTER_MAX` (include/linux/swap.h): 32 pages. */
export const COMPACT_CLUSTER_MAX = 32;

/** `PAGE_ALLOC_COSTLY_ORDER` (include/linux/mmzone.h). */
export const PAGE_ALLOC_COSTLY_ORDER = 3;

/** `sysctl_extfrag_threshold` default (mm/compaction.c, 6.3). */
export const EXTFRAG_THRESHOLD = 500;

/** `COMPACT_MAX_DEFER_SHIFT` (include/linux/compaction.h). */
export const COMPACT_MAX_DEFER_SHIFT = 6;

/**
 * The compaction fields of `struct zone` (include/linux/mmzone.h, 6.3) for one zone of a
 * node: where the scanners restart, the deferral state and `compact_blockskip_flush`.
 */
export interface ZoneCompaction {
  readonly nid: number;
  /** `zone_idx(zone)`: ZONE_NORMAL or ZONE_MOVABLE. */
  readonly zoneIdx: number;
  /** `zone->zone_start_pfn` and `zone_end_pfn(zone)`. */
  readonly startPfn: number;
  readonly endPfn: number;
  /** `compact_cached_free_pfn`. */
  cachedFreePfn: number;
  /** `compact_cached_migrate_pfn[2]`: [0] async, [1] sync. */
  readonly cachedMigratePfn: [number, number];
  /** `compact_considered`, `compact_defer_shift`, `compact_order_failed`. */
  considered: number;
  deferShift: number;
  orderFailed: number;
  /** `compact_blockskip_flush`. */
  blockskipFlush: boolean;
}

/** Key of the zones' compaction state kept with each machine (`memoryAttachment`). */
const ZONES = { table: 'zone compaction state' };

/**
 * The compaction state of zone `zoneIdx` (default ZONE_NORMAL) of node `nid` on machine
 * `k`. A zone that is not populated (ZONE_MOVABLE of a node without `movablePages`) or
 * a bad node or zone index: INVALID_ARGUMENT.
 */
export function zoneCompaction(
  k: Kernel,
  nid: number,
  zoneIdx: number = ZONE_NORMAL,
): ZoneCompaction {
  let list = memoryAttachment<ZoneCompaction[]>(k.mem, ZONES);
  if (list === undefined) {
    list = [];
    setMemoryAttachment(k.mem, ZONES, list);
  }
  const slot = nid * 4 + zoneIdx;
  let z = Number.isInteger(slot) && slot >= 0 ? list[slot] : undefined;
  if (z === undefined || z.nid !== nid || z.zoneIdx !== zoneIdx) {
    if (!Number.isInteger(nid) || nid < 0 || nid >= k.nrNodes) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `compaction: node ${String(nid)} is not a node of the machine (0..${k.nrNodes - 1})`,
      );
    }
    if (zoneIdx !== ZONE_NORMAL && zoneIdx !== ZONE_MOVABLE) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `compaction: zone ${String(zoneIdx)} is not a zone of the model (ZONE_NORMAL ${ZONE_NORMAL}, ZONE_MOVABLE ${ZONE_MOVABLE})`,
      );
    }
    if (!populatedZone(k.mem, nid, zoneIdx)) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `compaction: node ${nid} has no ${ZONE_NAMES[zoneIdx]} zone`,
      );
    }
    const startPfn = zoneStartPfn(k.mem, nid, zoneIdx);
    const endPfn = zoneEndPfn(k.mem, nid, zoneIdx);
    z = {
      nid,
      zoneIdx,
      startPfn,
      endPfn,
      cachedFreePfn: pageblockStart(endPfn - 1),
      cachedMigratePfn: [startPfn, startPfn],
      considered: 0,
      deferShift: 0,
      orderFailed: 0,
      blockskipFlush: false,
    };
    list[slot] = z;
  }
  return z;
}

/**
 * The populated zones of node `nid`, lowest first (`for (zoneid = 0; zoneid <
 * MAX_NR_ZONES; zoneid++) if (populated_zone(zone))`, mm/compaction.c, 6.3).
 */
export function populatedZones(k: Kernel, nid: number): number[] {
  const out: number[] = [];
  if (populatedZone(k.mem, nid, ZONE_NORMAL)) out.push(ZONE_NORMAL);
  if (populatedZone(k.mem, nid, ZONE_MOVABLE)) out.push(ZONE_MOVABLE);
  return out;
}

function pageblockStart(pfn: number): number {
  return pfn - (pfn & 511);
}

/** What a caller sets in `struct compact_control` before `compact_zone`. */
export interface CompactControlInit {
  /** `cc->order`: the order the compaction works for; -1 = whole zone (`compact_memory`). */
  readonly order: number;
  readonly mode: MigrateMode;
  readonly nid: number;
  /** `cc->zone`: the zone of node `nid` to compact, ZONE_NORMAL (default) or ZONE_MOVABLE. */
  readonly zone?: number;
  readonly whole_zone?: boolean;
  readonly ignore_skip_hint?: boolean;
  readonly ignore_block_suitable?: boolean;
  readonly direct_compaction?: boolean;
  readonly proactive_compaction?: boolean;
  readonly alloc_contig?: boolean;
  /** `cc->gfp_mask & __GFP_FS`; default true (GFP_KERNEL). */
  readonly gfpFs?: boolean;
}

/**
 * `struct compact_control` (mm/internal.h, Linux 6.3): the state of one compaction of one
 * zone, shared by the migration scanner, the free scanner and `compact_zone`. Field names
 * follow the kernel's.
 */
export class CompactControl {
  /** `cc->freepages`: order-0 pages the free scanner isolated, the migration targets. */
  readonly freepages: FolioList;
  /** `cc->migratepages`: the folios the migration scanner isolated. */
  readonly migratepages: FolioList;
  nr_freepages = 0;
  nr_migratepages = 0;
  total_migrate_scanned = 0;
  total_free_scanned = 0;
  /** `cc->free_pfn`, `cc->migrate_pfn`: where each scanner is. */
  free_pfn = 0;
  migrate_pfn = 0;
  fast_start_pfn = 0;
  readonly zone: ZoneCompaction;
  readonly order: number;
  readonly mode: MigrateMode;
  /** `cc->migratetype`: `gfp_migratetype(cc->gfp_mask)`; MIGRATE_MOVABLE for the model's callers. */
  readonly migratetype: number;
  readonly ignore_skip_hint: boolean;
  /** `cc->no_set_skip_hint`: set by alloc_contig, which must not mark blocks. */
  readonly no_set_skip_hint: boolean;
  readonly ignore_block_suitable: boolean;
  readonly direct_compaction: boolean;
  readonly proactive_compaction: boolean;
  /** `cc->whole_zone`: scan the zone from end to end (set by compact_zone when the cached start is the zone's). */
  whole_zone: boolean;
  /** `cc->contended`: a lock was contended or a fatal signal is pending (async: abort). */
  contended = false;
  /** `cc->finish_pageblock` (6.3; `rescan` before): scan the rest of the pageblock. */
  finish_pageblock = false;
  readonly alloc_contig: boolean;
  readonly gfpFs: boolean;
  /** The machine (the kernel reaches it through `cc->zone`). */
  readonly k: Kernel;

  constructor(k: Kernel, init: CompactControlInit) {
    this.k = k;
    if (!Number.isInteger(init.order) || init.order < -1 || init.order > 10) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `compaction order must be -1 (whole zone) or 0..10, got ${String(init.order)}`,
      );
    }
    this.zone = zoneCompaction(k, init.nid, init.zone ?? ZONE_NORMAL);
    this.freepages = new FolioList(k.mem);
    this.migratepages = new FolioList(k.mem);
    this.order = init.order;
    this.mode = init.mode;
    this.migratetype = 1; // MIGRATE_MOVABLE: GFP_KERNEL / GFP_HIGHUSER_MOVABLE callers
    this.ignore_skip_hint = init.ignore_skip_hint ?? false;
    this.no_set_skip_hint = init.alloc_contig ?? false;
    this.ignore_block_suitable = init.ignore_block_suitable ?? false;
    this.direct_compaction = init.direct_compaction ?? false;
    this.proactive_compaction = init.proactive_compaction ?? false;
    this.whole_zone = init.whole_zone ?? false;
    this.alloc_contig = init.alloc_contig ?? false;
    this.gfpFs = init.gfpFs ?? true;
  }

  /** Whether this compaction runs in MIGRATE_ASYNC (`cc->mode == MIGRATE_ASYNC`). */
  get async(): boolean {
    return this.mode === MIGRATE_ASYNC;
  }
}

/** `is_via_compact_memory(order)`: order -1, a whole-zone compaction. */
export function isViaCompactMemory(order: number): boolean {
  return order === -1;
}

/** `compact_scanners_met(cc)`: the scanners met (compared by pageblock). */
export function compactScannersMet(cc: CompactControl): boolean {
  return cc.free_pfn >> 9 <= cc.migrate_pfn >> 9;
}
