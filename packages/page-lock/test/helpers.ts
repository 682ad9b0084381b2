import { createPhysicalMemory, type Folio, folioAlloc, type PhysicalMemory } from '@mmsim/folio';
import { MmsimError, Runtime, type RuntimeConfig } from '@mmsim/runtime';
import { type PageLockOptions, PageLockTable } from '../src/index.js';

export interface Machine {
  readonly rt: Runtime;
  readonly mem: PhysicalMemory;
  readonly locks: PageLockTable;
  /** Allocates an order-0 folio (refcount 1). */
  readonly folio: () => Folio;
}

/** A runtime (in-order, 4 CPUs unless told), 4096 pages of memory and a page-lock table. */
export function machine(config: RuntimeConfig = {}, options: PageLockOptions = {}): Machine {
  const rt = new Runtime({ cpus: 4, strategy: 'in-order', ...config });
  const mem = createPhysicalMemory({ nodes: [{ pages: 4096 }] });
  const locks = new PageLockTable(rt, mem, options);
  const folio = (): Folio => {
    const f = folioAlloc(mem, 0, 0);
    if (f < 0) throw new Error('out of memory');
    return f;
  };
  return { rt, mem, locks, folio };
}

/** Runs `fn` and returns the MmsimError it throws (fails the test if it does not throw). */
export function thrown(fn: () => unknown): MmsimError {
  try {
    fn();
  } catch (error) {
    if (error instanceof MmsimError) return error;
    throw error;
  }
  throw new Error('expected an MmsimError, nothing was thrown');
}

/** `0x1200`. */
export function hex(folio: Folio): string {
  return `0x${folio.toString(16)}`;
}

/**
 * A sleep much longer than a cross-CPU wake-up (2 us by default): after it, every task
 * woken before it began has run.
 */
export const LONG = 100_000;
