import type { PhysicalMemory } from '@mmsim/folio';
import type { Resource, Runtime } from '@mmsim/runtime';
import type { BitWaitTable } from './bit-wait-table.js';
import type { DependencyChecker } from './dependency-checker.js';
import type { FolioWaitTable } from './folio-wait-table.js';

/**
 * The state one `PageLockTable` shares with the modules that implement it: the runtime, the
 * memory, who owns each locked folio and each folio's writeback, the two hashed wait
 * tables, and the dependency checker (null when off).
 */
export interface PageLockState {
  readonly rt: Runtime;
  readonly mem: PhysicalMemory;
  /** Task id that holds PG_locked of each folio (by head pfn), 0 when unlocked. */
  readonly owner: Int32Array;
  /** Task id that must act to end each folio's writeback, 0 when none in flight. */
  readonly wbOwner: Int32Array;
  readonly waits: FolioWaitTable;
  readonly bitWaits: BitWaitTable;
  readonly checker: DependencyChecker | null;
  /** Resources of waited folio bits, made on first contention, by pfn * 2 + (writeback). */
  readonly resources: Map<number, Resource>;
}
