import type { Folio, PhysicalMemory } from '@mmsim/folio';
import { MmsimError, type Resource, type Runtime, type Task } from '@mmsim/runtime';
import type { BitWaitTable } from './bit-wait-table.js';
import type { DependencyChecker } from './dependency-checker.js';
import type { FolioWaitTable } from './folio-wait-table.js';

/**
 * The state one `PageLockTable` shares with the modules that implement it: the runtime, the
 * memory, who owns each locked folio and each folio's writeback, the two hashed wait
 * tables, and the dependency checker (null when off).
 */
export interface LockContext {
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

/** `0x1200`: how the package names a folio in messages and lock classes. */
export function hex(folio: Folio): string {
  return Number.isInteger(folio) && folio >= 0 ? `0x${folio.toString(16)}` : String(folio);
}

/** The task of an id, or null for 0 (or an id this runtime never made). */
export function taskById(rt: Runtime, id: number): Task | null {
  return rt.taskById(id) ?? null;
}

/** `comm-pid` of the task with this id, or `nobody`. */
export function ownerName(rt: Runtime, id: number): string {
  const task = taskById(rt, id);
  return task === null ? 'nobody' : String(task);
}

/** A CONTRACT_VIOLATION error. */
export function contract(message: string): MmsimError {
  return new MmsimError('CONTRACT_VIOLATION', message);
}

/**
 * Throws INVALID_ARGUMENT unless `task` is a live task of this runtime: the target of a
 * lock or writeback hand-over.
 */
export function checkTarget(rt: Runtime, task: Task, what: string): void {
  if (rt.taskById(task.id) !== task) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `${what}: ${String(task)} is not a task of this runtime`,
    );
  }
  if (task.state === 'done') {
    throw new MmsimError('INVALID_ARGUMENT', `${what}: ${task} has already ended`);
  }
}

/** `might_sleep`, from the runtime. */
export { mightSleep } from '@mmsim/runtime';

/** The Resource a waiter of a folio bit sleeps on: its holder is the owner of the bit. */
export function folioBitResource(ctx: LockContext, folio: Folio, writeback: boolean): Resource {
  const key = folio * 2 + (writeback ? 1 : 0);
  let resource = ctx.resources.get(key);
  if (resource === undefined) {
    const owners = writeback ? ctx.wbOwner : ctx.owner;
    const rt = ctx.rt;
    resource = {
      name: `folio ${hex(folio)} ${writeback ? 'PG_writeback' : 'PG_locked'}`,
      holders: () => {
        const task = taskById(rt, owners[folio] ?? 0);
        return task === null ? [] : [task];
      },
    };
    ctx.resources.set(key, resource);
  }
  return resource;
}
