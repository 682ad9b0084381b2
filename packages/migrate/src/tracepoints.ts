import { type TraceEvent, traceEvent, tracepointSet } from '@mmsim/runtime';
import { migrateModeTraceString } from './modes.js';
import { MIGRATE_REASON_NAMES } from './reasons.js';

/**
 * The migrate tracepoints (include/trace/events/migrate.h, Linux 6.3), each declared with
 * its TP_printk as TRACE_EVENT does. Fields keep the kernel's names and
 * `TP_STRUCT__entry` order.
 */

/** `mm_migrate_pages_start(mode, reason)`: fired on entry to `migrate_pages()`. */
export interface MmMigratePagesStart {
  readonly mode: number;
  readonly reason: number;
}

/**
 * `mm_migrate_pages(succeeded, failed, thp_succeeded, thp_failed, thp_split, mode,
 * reason)`: fired on every return of `migrate_pages()`. `failed` is `nr_failed_pages`.
 * 6.7+ adds `large_folio_split` after `thp_split`.
 */
export interface MmMigratePages {
  readonly succeeded: number;
  readonly failed: number;
  readonly thp_succeeded: number;
  readonly thp_failed: number;
  readonly thp_split: number;
  /**
   * `large_folio_split` (printed `nr_split`): in the event from 6.7 ("mm/migrate: add
   * nr_split to trace_mm_migrate_pages stats."); absent for the variants before.
   */
  readonly large_folio_split?: number;
  readonly mode: number;
  readonly reason: number;
}

/** `__print_symbolic(reason, MIGRATE_REASON)`; an unknown value prints in hex. */
function reasonString(reason: number): string {
  return MIGRATE_REASON_NAMES[reason] ?? `0x${reason.toString(16)}`;
}

/**
 * `mode=MIGRATE_SYNC reason=syscall_or_cpuset`. With `mm_migrate_pages` it brackets one
 * `migrate_pages()` call: a slice on a timeline.
 */
export const MM_MIGRATE_PAGES_START = traceEvent<MmMigratePagesStart>(
  'mm_migrate_pages_start',
  (f) => `mode=${migrateModeTraceString(f.mode)} reason=${reasonString(f.reason)}`,
  { slice: 'migrate_pages', phase: 'begin' },
);

/**
 * `nr_succeeded=512 nr_failed=0 nr_thp_succeeded=2 nr_thp_failed=0 nr_thp_split=0
 * mode=MIGRATE_SYNC reason=syscall_or_cpuset`; from 6.7 `nr_split=N` follows
 * `nr_thp_split`.
 */
export const MM_MIGRATE_PAGES = traceEvent<MmMigratePages>(
  'mm_migrate_pages',
  (f) =>
    `nr_succeeded=${f.succeeded} nr_failed=${f.failed} nr_thp_succeeded=${f.thp_succeeded} ` +
    `nr_thp_failed=${f.thp_failed} nr_thp_split=${f.thp_split} ` +
    (f.large_folio_split === undefined ? '' : `nr_split=${f.large_folio_split} `) +
    `mode=${migrateModeTraceString(f.mode)} reason=${reasonString(f.reason)}`,
  { slice: 'migrate_pages', phase: 'end' },
);

/** Fields of `mmsim_folio_isolated` and `mmsim_folio_done`: the folio (its head pfn). */
export interface MmsimFolioEvent {
  readonly pfn: number;
  readonly nr_pages: number;
}

/** Fields of `mmsim_folio_moved`: the folio's contents and state went from src to dst. */
export interface MmsimFolioMovedEvent {
  readonly src: number;
  readonly dst: number;
}

/** Fields of `mmsim_folio_copied`: src's contents were copied to dst. */
export interface MmsimFolioCopiedEvent {
  readonly src: number;
  readonly dst: number;
  readonly nr_pages: number;
}

/** Fields of `mmsim_folio_done`. */
export interface MmsimFolioDoneEvent extends MmsimFolioEvent {
  /** `freed`: a migrated source lost its isolation reference; `putback`: it went back. */
  readonly fate: 'freed' | 'putback';
}

/**
 * A folio's journey through migration is a flow on a timeline, keyed by the source's
 * pfn: it starts when an isolated folio is handed to `migrate_pages()`, steps at the move
 * to its destination (`mmsim_folio_moved`, whichever engine moved it: the 6.3 batch, the
 * 6.2 loop or the hugetlb path), and ends when the source is freed or put back. The kernel
 * has no per-folio tracepoints for these (6.3 migrate.h has only the per-call
 * `mm_migrate_pages*` and the per-PTE events), so these are model events, named
 * `mmsim_*`: an ftrace sink leaves them out unless asked.
 */
const journey = <F extends object>(phase: 'start' | 'step' | 'end', key: (f: F) => number) =>
  ({ flow: 'folio journey', category: 'folio', phase, key }) as const;

export const MMSIM_FOLIO_ISOLATED = traceEvent<MmsimFolioEvent>(
  'mmsim_folio_isolated',
  (f) => `pfn=0x${f.pfn.toString(16)} nr_pages=${f.nr_pages}`,
  journey<MmsimFolioEvent>('start', (f) => f.pfn),
);
export const MMSIM_FOLIO_MOVED = traceEvent<MmsimFolioMovedEvent>(
  'mmsim_folio_moved',
  (f) => `src=0x${f.src.toString(16)} dst=0x${f.dst.toString(16)}`,
  journey<MmsimFolioMovedEvent>('step', (f) => f.src),
);
export const MMSIM_FOLIO_DONE = traceEvent<MmsimFolioDoneEvent>(
  'mmsim_folio_done',
  (f) => `pfn=0x${f.pfn.toString(16)} nr_pages=${f.nr_pages} fate=${f.fate}`,
  journey<MmsimFolioDoneEvent>('end', (f) => f.pfn),
);

/**
 * A model event: the copy of a folio's contents during its move (`folio_copy` in
 * `folio_migrate_copy`, 6.3; `folio_mc_copy` in `__migrate_folio`, from 6.12). Counts the
 * copies a move made, wasted ones included (a copy before a failed freeze).
 */
export const MMSIM_FOLIO_COPIED = traceEvent<MmsimFolioCopiedEvent>(
  'mmsim_folio_copied',
  (f) => `src=0x${f.src.toString(16)} dst=0x${f.dst.toString(16)} nr_pages=${f.nr_pages}`,
);

/** The tracepoints of one runtime's migrate core. */
export class MigrateTracepoints extends tracepointSet({
  start: MM_MIGRATE_PAGES_START,
  end: MM_MIGRATE_PAGES,
  /** Model events of a folio's journey (see `MMSIM_FOLIO_ISOLATED`). */
  folioIsolated: MMSIM_FOLIO_ISOLATED,
  folioMoved: MMSIM_FOLIO_MOVED,
  folioDone: MMSIM_FOLIO_DONE,
  /** `mmsim_folio_copied` (see `MMSIM_FOLIO_COPIED`). */
  folioCopied: MMSIM_FOLIO_COPIED,
}) {}

/**
 * The TP_printk text of a migrate tracepoint event, or null for other events. Sinks need
 * not call it: `rt.trace.formatFields(event)` prints any defined event.
 */
export function formatMigrateEvent(event: TraceEvent): string | null {
  if (event.name === MM_MIGRATE_PAGES.name) {
    return MM_MIGRATE_PAGES.printk?.(event.fields as unknown as MmMigratePages) ?? null;
  }
  if (event.name === MM_MIGRATE_PAGES_START.name) {
    return MM_MIGRATE_PAGES_START.printk?.(event.fields as unknown as MmMigratePagesStart) ?? null;
  }
  return null;
}
