import { traceEvent, tracepointSet } from '@mmsim/runtime';

/** Fields of `set_migration_pte` / `remove_migration_pte` (include/trace/events/migrate.h, 6.3). */
export interface MigrationPteEvent {
  /** The virtual address. */
  readonly addr: number;
  /** The entry written, in the model's encoding (see `formatPte`). */
  readonly pte: number;
  /** Order of the folio. */
  readonly order: number;
}

/** Fields of `set_migration_pmd` / `remove_migration_pmd` (include/trace/events/thp.h, 6.3). */
export interface MigrationPmdEvent {
  readonly addr: number;
  readonly pmd: number;
}

/** Fields of `tlb_flush` (include/trace/events/tlb.h, 6.3). */
export interface TlbFlushEvent {
  /** enum tlb_flush_reason: TLB_REMOTE_SEND_IPI, TLB_LOCAL_SHOOTDOWN... */
  readonly reason: number;
  /** Pages flushed, or TLB_FLUSH_ALL (-1). */
  readonly pages: number;
}

function hex(n: number): string {
  return n.toString(16);
}

/** `set_migration_pte` and `remove_migration_pte` share one event class: `addr=%lx, pte=%lx order=%d`. */
function migrationPtePrintk(f: MigrationPteEvent): string {
  return `addr=${hex(f.addr)}, pte=${hex(f.pte)} order=${f.order}`;
}

/**
 * A migration entry's life is a flow on a timeline, from the `set_migration_pte` that
 * installed it to the `remove_migration_pte` that replaced it, paired by virtual address.
 */
const entryLife = (phase: 'start' | 'end') =>
  ({
    flow: 'migration entry',
    category: 'folio',
    phase,
    key: (f: MigrationPteEvent) => f.addr,
  }) as const;

export const SET_MIGRATION_PTE = traceEvent(
  'set_migration_pte',
  migrationPtePrintk,
  entryLife('start'),
);
export const REMOVE_MIGRATION_PTE = traceEvent(
  'remove_migration_pte',
  migrationPtePrintk,
  entryLife('end'),
);

/** `set_migration_pmd` / `remove_migration_pmd` (thp.h, 6.3): fields printed as `name=value`. */
export const SET_MIGRATION_PMD = traceEvent<MigrationPmdEvent>('set_migration_pmd');
export const REMOVE_MIGRATION_PMD = traceEvent<MigrationPmdEvent>('remove_migration_pmd');
/** `tlb_flush` (tlb.h, 6.3): fields printed as `name=value`. */
export const TLB_FLUSH = traceEvent<TlbFlushEvent>('tlb_flush');

/** The tracepoints the rmap package emits, defined on the runtime's trace bus by kernel name. */
export class RmapTracepoints extends tracepointSet({
  setMigrationPte: SET_MIGRATION_PTE,
  removeMigrationPte: REMOVE_MIGRATION_PTE,
  setMigrationPmd: SET_MIGRATION_PMD,
  removeMigrationPmd: REMOVE_MIGRATION_PMD,
  tlbFlush: TLB_FLUSH,
}) {}
