import { frameArrayU8, frameView, type PhysicalMemory } from '@mmsim/folio';
import {
  MmsimError,
  Mutex,
  type Runtime,
  type Task,
  type Tracepoint,
  type VmStat,
} from '@mmsim/runtime';
import { FolioBatch } from './folio-batch.js';
import type { LruCheckState } from './invariants.js';
import { Lruvec } from './lruvec.js';
import { MlockBatch } from './mlock-batch.js';

// Where a folio is, as far as the LRU knows beyond its list and flags (one byte per pfn).

/** Nowhere special: on an LRU list with PG_lru, or off the LRU altogether. */
export const WHERE_NONE = 0;
/** Queued in a per-CPU lru_add batch (or detached by the move in flight), PG_lru clear. */
export const WHERE_BATCH = 1;
/** An isolator has won PG_lru and has not unlinked it yet: still on its list, PG_lru clear. */
export const WHERE_ISOLATING = 2;
/** Its last reference is being dropped: refcount frozen at 0, still on its list with PG_lru. */
export const WHERE_RELEASING = 3;

/** Fields of the `mm_lru_insertion` tracepoint (include/trace/events/pagemap.h). */
export interface MmLruInsertion {
  pfn: number;
  lru: number;
}

/**
 * Everything the LRU layer of one machine holds: the lruvec of each node, the lru_add batch
 * of each CPU, `lru_disable_count`, the lock and generation of `lru_add_drain_all`, and
 * the per-pfn bookkeeping the invariant checker needs.
 */
export class LruState {
  readonly rt: Runtime;
  readonly mem: PhysicalMemory;
  readonly vmstat: VmStat;
  /** `NODE_DATA(nid)->__lruvec`, by node id. */
  readonly lruvecs: readonly Lruvec[];
  /** `per_cpu(cpu_fbatches.lru_add, cpu)`, by CPU id. */
  readonly batches: readonly FolioBatch[];
  /** `per_cpu(mlock_fbatch, cpu)`, by CPU id (mm/mlock.c). */
  readonly mlockBatches: readonly MlockBatch[];
  /** `folio->mlock_count` per pfn, allocated on the machine's first mlock. */
  mlockCount: Int32Array | null = null;
  /** WHERE_* per pfn (heads only). */
  readonly where: Uint8Array;
  /**
   * The memmap's `lruWritten` marks (@mmsim/folio `FrameView`): every write of `where`
   * stores 1 at the folio's group (`folio >>> LRU_MARK_SHIFT`) beside it, for the
   * incremental LRU check (invariants.ts).
   */
  readonly lruWritten: Uint8Array;
  /** The LRU check's per-machine state (invariants.ts), made by its first pass. */
  lruCheck: LruCheckState | null = null;
  /** `lru_disable_count`. */
  disableCount = 0;
  /** The static mutex of `__lru_add_drain_all`. */
  readonly drainAllLock: Mutex;
  /** `lru_drain_gen`. */
  drainGen = 0;
  /**
   * Address spaces with AS_UNEVICTABLE (`mapping_set_unevictable`); null until the first
   * (a weak set a machine is one more thing for every collection to trace, and few
   * machines mark a mapping).
   */
  unevictableMappings: WeakSet<object> | null = null;
  /** How many mappings were ever marked unevictable: 0 lets `folio_evictable` skip the lookup. */
  unevictableMarks = 0;
  readonly mmLruInsertion: Tracepoint<MmLruInsertion>;

  constructor(rt: Runtime, mem: PhysicalMemory, vmstat: VmStat) {
    if (vmstat.nrNodes !== mem.nrNodes) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `the VmStat has ${vmstat.nrNodes} node(s) but the PhysicalMemory has ${mem.nrNodes}: build both for the same machine`,
      );
    }
    this.rt = rt;
    this.mem = mem;
    this.vmstat = vmstat;
    const lruvecs: Lruvec[] = [];
    for (let nid = 0; nid < mem.nrNodes; nid++) lruvecs.push(new Lruvec(rt, mem, vmstat, nid));
    this.lruvecs = Object.freeze(lruvecs);
    // One loop for both (two `map`s with closures cost more on a machine per schedule).
    const batches: FolioBatch[] = [];
    const mlockBatches: MlockBatch[] = [];
    const cpus = rt.cpus;
    for (let i = 0; i < cpus.length; i++) {
      const id = cpus[i]!.id;
      batches.push(new FolioBatch(rt, id));
      mlockBatches.push(new MlockBatch(id));
    }
    this.batches = Object.freeze(batches);
    this.mlockBatches = Object.freeze(mlockBatches);
    this.where = frameArrayU8(mem);
    this.lruWritten = frameView(mem).lruWritten;
    this.drainAllLock = new Mutex(rt, 'lru_add_drain_all lock');
    this.mmLruInsertion = rt.trace.define<MmLruInsertion>('mm_lru_insertion');
  }
}

/** The running task; throws NO_CURRENT_TASK (changing nothing) outside one. */
export function requireTask(s: LruState): Task {
  return s.rt.current;
}
