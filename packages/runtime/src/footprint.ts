/**
 * Footprints of scheduling steps: which objects each step of a run touched, and how (read
 * or write). Dynamic partial-order reduction (`DporSearch`) reads them to tell which
 * steps are independent (they commute) and which race.
 *
 * A runtime records footprints only when it is given a `FootprintLog`
 * (`RuntimeConfig.footprints`); otherwise every hook is one null test, with no allocation.
 *
 * Objects are named by numbers. Ids below `FIRST_OBJECT_ID` are the runtime's own: a task
 * is its task id, a CPU `CPU_OBJECT_BASE + cpu.id`. Locks and wait queues take an id from `Runtime.newObjectId()` when
 * they are built, in creation order, so the same object has the same id in every run that
 * built it at the same point (which is what sleep sets compare across runs).
 *
 * Every step writes its own task and its CPU (so the steps of one task, and of tasks that
 * share a CPU, are ordered: a CPU's preemption state decides who may run there). A step
 * that wakes a task writes that task, so a wake-up happens before the sleeper's next step.
 * A step marked global (`touchAll`) is dependent with every other step: it is the sound
 * default for a step whose accesses are not all declared.
 */
export class FootprintLog {
  /** Task id of each step. */
  readonly tasks: number[] = [];
  /** Index in `objects` of each step's first access; one more entry closes the last step. */
  readonly starts: number[] = [0];
  /** Object id of each access. */
  readonly objects: number[] = [];
  /** 1 for a write, 0 for a read, per access. */
  readonly writes: number[] = [];
  /** 1 when the step is global (dependent with every step), per step. */
  readonly global: number[] = [];
  #open = false;

  /** Steps recorded. */
  get length(): number {
    return this.tasks.length;
  }

  /** Forgets every step (a log can be reused for the next run). */
  clear(): void {
    this.tasks.length = 0;
    this.starts.length = 1;
    this.objects.length = 0;
    this.writes.length = 0;
    this.global.length = 0;
    this.#open = false;
  }

  /** @internal The runtime opens a step of `taskId` on CPU `cpuId`. */
  begin(taskId: number, cpuId: number, global: boolean): void {
    this.tasks.push(taskId);
    this.global.push(global ? 1 : 0);
    this.#open = true;
    this.objects.push(taskId, CPU_OBJECT_BASE + cpuId);
    this.writes.push(1, 1);
  }

  /** @internal The runtime closes the step it opened. */
  end(): void {
    if (!this.#open) return;
    this.#open = false;
    this.starts.push(this.objects.length);
  }

  /** Records an access by the open step (ignored between steps). */
  touch(id: number, write: boolean): void {
    if (!this.#open) return;
    this.objects.push(id);
    this.writes.push(write ? 1 : 0);
  }

  /** Marks the open step dependent with every step (ignored between steps). */
  touchAll(): void {
    if (!this.#open) return;
    this.global[this.global.length - 1] = 1;
  }

  /**
   * A key naming the run's interleaving class (its Mazurkiewicz trace under the
   * dependence relation): the Foata normal form, each step at level 1 + the highest level
   * of the earlier steps it depends on, listed as level.task sorted. Two runs have the same
   * key exactly when one is the other with independent adjacent steps swapped.
   */
  classKey(): string {
    const n = this.tasks.length;
    const level = new Int32Array(n);
    const lastWrite = new Map<number, number>();
    const readMax = new Map<number, number>();
    let globalLevel = 0;
    let maxLevel = 0;
    const parts: string[] = [];
    for (let k = 0; k < n; k++) {
      const from = this.starts[k] as number;
      const to = this.starts[k + 1] ?? this.objects.length;
      const global = this.global[k] === 1;
      let l = global ? maxLevel : globalLevel;
      for (let a = from; a < to; a++) {
        const o = this.objects[a] as number;
        l = Math.max(l, lastWrite.get(o) ?? 0);
        if (this.writes[a] === 1) l = Math.max(l, readMax.get(o) ?? 0);
      }
      const here = l + 1;
      level[k] = here;
      for (let a = from; a < to; a++) {
        const o = this.objects[a] as number;
        if (this.writes[a] === 1) {
          lastWrite.set(o, here);
          readMax.delete(o);
        } else readMax.set(o, Math.max(readMax.get(o) ?? 0, here));
      }
      if (global) globalLevel = here;
      if (here > maxLevel) maxLevel = here;
      parts.push(`${here}.${this.tasks[k]}`);
    }
    return parts.sort().join(' ');
  }

  /** The footprint of step `i`, to keep beyond this run (sleep sets). */
  footprintOf(i: number): StepFootprint {
    const from = this.starts[i] as number;
    const to = this.starts[i + 1] as number;
    return {
      task: this.tasks[i] as number,
      global: this.global[i] === 1,
      objects: this.objects.slice(from, to),
      writes: this.writes.slice(from, to),
    };
  }

  /** Whether step `i` of this log and `f` are dependent (do not commute). */
  dependsOn(i: number, f: StepFootprint): boolean {
    if (f.global || this.global[i] === 1) return true;
    const from = this.starts[i] as number;
    const to = this.starts[i + 1] as number;
    for (let a = from; a < to; a++) {
      const id = this.objects[a] as number;
      const w = this.writes[a] as number;
      for (let b = 0; b < f.objects.length; b++) {
        if (f.objects[b] === id && (w === 1 || f.writes[b] === 1)) return true;
      }
    }
    return false;
  }
}

/** One step's footprint, kept beyond its run. */
export interface StepFootprint {
  readonly task: number;
  readonly global: boolean;
  readonly objects: readonly number[];
  readonly writes: readonly number[];
}

/**
 * Kinds of kernel-model objects a step can touch (`Runtime.touchKernel`). Their ids are
 * negative, apart from every id the runtime hands out: `kernelObjectId(kind, key)`.
 *
 * | kind | key | what it stands for |
 * | --- | --- | --- |
 * | `FP_FOLIO` | head pfn | the folio's refcount, flags (PG_locked included), mapcount, mapping/index |
 * | `FP_MAPPING` | mapping id | an address space's page cache (its xarray) |
 * | `FP_PAGE_TABLE` | mm id × 2 MiB range | the PTEs of one page table |
 * | `FP_LRU_LIST` | lruvec list | one LRU list and the lruvec's lru_lock |
 * | `FP_PCP` | cpu | a CPU's per-CPU folio batches |
 * | `FP_ZONE` | node | a zone's buddy free lists and zone lock |
 * | `FP_VMSTAT` | counter | a vmstat counter |
 */
export const FP_FOLIO = 1;
export const FP_MAPPING = 2;
export const FP_PAGE_TABLE = 3;
export const FP_LRU_LIST = 4;
export const FP_PCP = 5;
export const FP_ZONE = 6;
export const FP_VMSTAT = 7;
/** Keys of one kind are taken modulo this (2^26). */
export const KERNEL_OBJECT_KEYS = 1 << 26;

/**
 * The footprint id of kernel-model object `key` (an integer >= 0) of `kind` (`FP_FOLIO` ...).
 * Kernel ids are negative, below -0 and apart from every id the runtime hands out, and
 * stay small integers (the logs and maps that hold them stay fast). Keys are taken modulo
 * `KERNEL_OBJECT_KEYS`: two objects that share an id are only ever treated as dependent
 * when they are not, which costs reduction, never soundness.
 */
export function kernelObjectId(kind: number, key: number): number {
  return -1 - (kind * KERNEL_OBJECT_KEYS + (key % KERNEL_OBJECT_KEYS));
}

/** Object id of CPU 0; CPU n is this plus n. */
export const CPU_OBJECT_BASE = 1 << 20;
/** The first id `Runtime.newObjectId()` hands out. */
export const FIRST_OBJECT_ID = 1 << 22;
