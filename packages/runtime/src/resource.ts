import type { Task } from './task.js';

/**
 * Anything a task can wait for. Deadlock reports follow the edge from a waiting task to
 * the holders of the resource it waits on. A resource with no holders (a completion
 * nobody has signalled, a bit nobody owns) ends the chain.
 */
export interface Resource {
  /** Human-readable name, e.g. `mutex A` or `folio pfn 0x1200 PG_locked`. */
  readonly name: string;
  /** Tasks that must act before a waiter can go on. */
  holders(): readonly Task[];
}
