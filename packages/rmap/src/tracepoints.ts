import type { Runtime, Tracepoint } from '@mmsim/runtime';

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

/** The tracepoints the rmap package emits, defined on the runtime's trace bus by kernel name. */
export class RmapTracepoints {
  readonly setMigrationPte: Tracepoint<MigrationPteEvent>;
  readonly removeMigrationPte: Tracepoint<MigrationPteEvent>;
  readonly setMigrationPmd: Tracepoint<MigrationPmdEvent>;
  readonly removeMigrationPmd: Tracepoint<MigrationPmdEvent>;
  readonly tlbFlush: Tracepoint<TlbFlushEvent>;

  constructor(rt: Runtime) {
    this.setMigrationPte = rt.trace.define<MigrationPteEvent>('set_migration_pte');
    this.removeMigrationPte = rt.trace.define<MigrationPteEvent>('remove_migration_pte');
    this.setMigrationPmd = rt.trace.define<MigrationPmdEvent>('set_migration_pmd');
    this.removeMigrationPmd = rt.trace.define<MigrationPmdEvent>('remove_migration_pmd');
    this.tlbFlush = rt.trace.define<TlbFlushEvent>('tlb_flush');
  }
}
