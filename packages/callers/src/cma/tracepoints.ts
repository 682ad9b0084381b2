import { type Runtime, traceEvent, tracepointSet } from '@mmsim/runtime';

/**
 * The CMA tracepoints (include/trace/events/cma.h, Linux 6.3) and
 * `mm_alloc_contig_migrate_range_info` (include/trace/events/kmem.h, 6.9+), each with its
 * TP_printk. `page` is a `struct page *` (`%p`) in the kernel; the model prints the pfn
 * it stands for, or 0 for NULL.
 */

const hex = (n: number): string => `0x${n.toString(16)}`;
const ptr = (pfn: number): string =>
  pfn < 0 ? '0000000000000000' : pfn.toString(16).padStart(16, '0');

/** `cma_alloc_class`: `cma_alloc_finish`, `cma_alloc_busy_retry`. */
export interface CmaAllocClass {
  readonly name: string;
  /** The pfn tried (-1 when none was: printed as 0xffffffffffffffff in the kernel). */
  readonly pfn: number;
  /** The first page allocated, -1 for NULL. */
  readonly page: number;
  readonly count: number;
  readonly align: number;
}

const allocClassPrintk = (f: CmaAllocClass): string =>
  `name=${f.name} pfn=${f.pfn < 0 ? '0xffffffffffffffff' : hex(f.pfn)} page=${ptr(f.page)} count=${f.count} align=${f.align}`;

/** `name=reserved pfn=0x400 page=0000000000000400 count=16 align=0`. */
export const CMA_ALLOC_FINISH = traceEvent<CmaAllocClass>('cma_alloc_finish', allocClassPrintk);
/** Same fields as `cma_alloc_finish`: a busy range, tried again elsewhere. */
export const CMA_ALLOC_BUSY_RETRY = traceEvent<CmaAllocClass>(
  'cma_alloc_busy_retry',
  allocClassPrintk,
);

/** `cma_alloc_start(name, count, align)`. */
export interface CmaAllocStart {
  readonly name: string;
  readonly count: number;
  readonly align: number;
}

/** `name=reserved count=16 align=0`. */
export const CMA_ALLOC_START = traceEvent<CmaAllocStart>(
  'cma_alloc_start',
  (f) => `name=${f.name} count=${f.count} align=${f.align}`,
);

/** `cma_release(name, pfn, page, count)`. */
export interface CmaReleaseEvent {
  readonly name: string;
  readonly pfn: number;
  readonly page: number;
  readonly count: number;
}

/** `name=reserved pfn=0x400 page=0000000000000400 count=16`. */
export const CMA_RELEASE = traceEvent<CmaReleaseEvent>(
  'cma_release',
  (f) => `name=${f.name} pfn=${hex(f.pfn)} page=${ptr(f.page)} count=${f.count}`,
);

/**
 * `mm_alloc_contig_migrate_range_info(start, end, migratetype, nr_migrated, nr_reclaimed,
 * nr_mapped)`, as c8b360031218 added it (6.9).
 */
export interface MmAllocContigMigrateRangeInfo {
  readonly start: number;
  readonly end: number;
  readonly migratetype: number;
  readonly nr_migrated: number;
  readonly nr_reclaimed: number;
  readonly nr_mapped: number;
}

/** `start=0x400 end=0x410 migratetype=4 nr_migrated=3 nr_reclaimed=0 nr_mapped=3`. */
export const MM_ALLOC_CONTIG_MIGRATE_RANGE_INFO = traceEvent<MmAllocContigMigrateRangeInfo>(
  'mm_alloc_contig_migrate_range_info',
  (f) =>
    `start=${hex(f.start)} end=${hex(f.end)} migratetype=${f.migratetype} nr_migrated=${f.nr_migrated} nr_reclaimed=${f.nr_reclaimed} nr_mapped=${f.nr_mapped}`,
);

/** The CMA tracepoints of one runtime. */
export class CmaTracepoints extends tracepointSet({
  allocStart: CMA_ALLOC_START,
  allocFinish: CMA_ALLOC_FINISH,
  busyRetry: CMA_ALLOC_BUSY_RETRY,
  release: CMA_RELEASE,
  contigInfo: MM_ALLOC_CONTIG_MIGRATE_RANGE_INFO,
}) {}

/** The CMA tracepoints of `rt`, defined on first use. */
export function cmaTracepoints(rt: Runtime): CmaTracepoints {
  return CmaTracepoints.of(rt);
}
