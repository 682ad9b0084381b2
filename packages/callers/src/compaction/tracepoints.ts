import { ZONE_NAMES } from '@mmsim/folio';
import { type Runtime, traceEvent, tracepointSet } from '@mmsim/runtime';
import { COMPACT_RESULT_NAMES } from './control.js';

/**
 * The compaction tracepoints (include/trace/events/compaction.h, Linux 6.3), each with its
 * TP_printk; fields keep the kernel's names and `TP_STRUCT__entry` order. `idx` is the
 * zone's `zone_idx` (ZONE_NORMAL or ZONE_MOVABLE), printed by name, and so is
 * `highest_zoneidx` (`__print_symbolic(…, ZONE_TYPE)`, padded to 8 as `%-8s`).
 */

/** `mm_compaction_isolate_template`: `isolate_migratepages` / `isolate_freepages`. */
export interface MmCompactionIsolate {
  readonly start_pfn: number;
  readonly end_pfn: number;
  readonly nr_scanned: number;
  readonly nr_taken: number;
}

const hex = (n: number): string => `0x${n.toString(16)}`;
const isolatePrintk = (f: MmCompactionIsolate): string =>
  `range=(${hex(f.start_pfn)} ~ ${hex(f.end_pfn)}) nr_scanned=${f.nr_scanned} nr_taken=${f.nr_taken}`;

/** `range=(0x0 ~ 0x200) nr_scanned=512 nr_taken=3`. */
export const MM_COMPACTION_ISOLATE_MIGRATEPAGES = traceEvent<MmCompactionIsolate>(
  'mm_compaction_isolate_migratepages',
  isolatePrintk,
);

/** Same fields as `mm_compaction_isolate_migratepages`, for the free scanner. */
export const MM_COMPACTION_ISOLATE_FREEPAGES = traceEvent<MmCompactionIsolate>(
  'mm_compaction_isolate_freepages',
  isolatePrintk,
);

/** `mm_compaction_migratepages(cc, nr_succeeded)` (6.3): `nr_failed = cc->nr_migratepages - nr_succeeded`. */
export interface MmCompactionMigratepages {
  readonly nr_migrated: number;
  readonly nr_failed: number;
}

/** `nr_migrated=3 nr_failed=0`. */
export const MM_COMPACTION_MIGRATEPAGES = traceEvent<MmCompactionMigratepages>(
  'mm_compaction_migratepages',
  (f) => `nr_migrated=${f.nr_migrated} nr_failed=${f.nr_failed}`,
);

/** `mm_compaction_begin(cc, zone_start, zone_end, sync)`. */
export interface MmCompactionBegin {
  readonly zone_start: number;
  readonly migrate_pfn: number;
  readonly free_pfn: number;
  readonly zone_end: number;
  readonly sync: boolean;
}

/** `mm_compaction_end(cc, zone_start, zone_end, sync, status)`. */
export interface MmCompactionEnd extends MmCompactionBegin {
  readonly status: number;
}

const beginPrintk = (f: MmCompactionBegin): string =>
  `zone_start=${hex(f.zone_start)} migrate_pfn=${hex(f.migrate_pfn)} free_pfn=${hex(f.free_pfn)} ` +
  `zone_end=${hex(f.zone_end)}, mode=${f.sync ? 'sync' : 'async'}`;

/** `zone_start=0x0 migrate_pfn=0x0 free_pfn=0x200 zone_end=0x400, mode=sync`; a slice. */
export const MM_COMPACTION_BEGIN = traceEvent<MmCompactionBegin>(
  'mm_compaction_begin',
  beginPrintk,
  {
    slice: 'compact_zone',
    phase: 'begin',
  },
);

/** `... zone_end=0x400, mode=sync status=complete`. */
export const MM_COMPACTION_END = traceEvent<MmCompactionEnd>(
  'mm_compaction_end',
  (f) => `${beginPrintk(f)} status=${COMPACT_RESULT_NAMES[f.status] ?? String(f.status)}`,
  { slice: 'compact_zone', phase: 'end' },
);

/** `mm_compaction_suitable_template`: `mm_compaction_finished` and `mm_compaction_suitable`. */
export interface MmCompactionSuitable {
  readonly nid: number;
  readonly idx: number;
  readonly order: number;
  readonly ret: number;
}

const suitablePrintk = (f: MmCompactionSuitable): string =>
  `node=${f.nid} zone=${(ZONE_NAMES[f.idx] ?? String(f.idx)).padEnd(8)} order=${f.order} ret=${COMPACT_RESULT_NAMES[f.ret] ?? String(f.ret)}`;

/** `node=0 zone=Normal   order=-1 ret=continue`. */
export const MM_COMPACTION_FINISHED = traceEvent<MmCompactionSuitable>(
  'mm_compaction_finished',
  suitablePrintk,
);
export const MM_COMPACTION_SUITABLE = traceEvent<MmCompactionSuitable>(
  'mm_compaction_suitable',
  suitablePrintk,
);

/** `kcompactd_wake_template`: `mm_compaction_wakeup_kcompactd`, `mm_compaction_kcompactd_wake`. */
export interface MmCompactionKcompactdWake {
  readonly nid: number;
  readonly order: number;
  readonly highest_zoneidx: number;
}

const wakePrintk = (f: MmCompactionKcompactdWake): string =>
  `nid=${f.nid} order=${f.order} highest_zoneidx=${(ZONE_NAMES[f.highest_zoneidx] ?? String(f.highest_zoneidx)).padEnd(8)}`;

/** `nid=0 order=2 highest_zoneidx=Movable `: the allocator woke kcompactd. */
export const MM_COMPACTION_WAKEUP_KCOMPACTD = traceEvent<MmCompactionKcompactdWake>(
  'mm_compaction_wakeup_kcompactd',
  wakePrintk,
);
/** Same fields: kcompactd starts `kcompactd_do_work`. */
export const MM_COMPACTION_KCOMPACTD_WAKE = traceEvent<MmCompactionKcompactdWake>(
  'mm_compaction_kcompactd_wake',
  wakePrintk,
);

/** The compaction tracepoints of one runtime. */
export class CompactionTracepoints extends tracepointSet({
  isolateMigratepages: MM_COMPACTION_ISOLATE_MIGRATEPAGES,
  isolateFreepages: MM_COMPACTION_ISOLATE_FREEPAGES,
  migratepages: MM_COMPACTION_MIGRATEPAGES,
  begin: MM_COMPACTION_BEGIN,
  end: MM_COMPACTION_END,
  finished: MM_COMPACTION_FINISHED,
  suitable: MM_COMPACTION_SUITABLE,
  wakeupKcompactd: MM_COMPACTION_WAKEUP_KCOMPACTD,
  kcompactdWake: MM_COMPACTION_KCOMPACTD_WAKE,
}) {}

/** The compaction tracepoints of `rt`, defined on first use. */
export function compactionTracepoints(rt: Runtime): CompactionTracepoints {
  return CompactionTracepoints.of(rt);
}
