import type { Folio } from '@mmsim/folio';
import { type Runtime, Spinlock } from '@mmsim/runtime';

/**
 * `PAGEVEC_SIZE` in Linux 6.3 (include/linux/pagevec.h): the capacity of a `struct
 * folio_batch`. (Later kernels raised it to 31.)
 */
export const PAGEVEC_SIZE = 15;

/**
 * One CPU's `cpu_fbatches.lru_add` (mm/swap.c, Linux 6.3): a `struct folio_batch` of folios
 * waiting to be added to the LRU, each holding a reference taken by `folio_add_lru`.
 *
 * In the kernel the batch is only touched on its own CPU under `local_lock` (preemption
 * disabled), and `lru_add_drain_all` runs the drain as work on that CPU. The model drains
 * remote batches from the calling task instead, so it needs an explicit exclusion: `lock`
 * is held for the whole of a move (`folio_batch_move_lru`), by the local task or by a
 * remote drainer, and a drainer that finds it held waits for the move in flight, as
 * `flush_work` would. Appending one folio is a single atomic step and takes no lock; a
 * move first detaches the whole batch (swapping in the spare array), so an append that
 * races with a remote move lands in the fresh batch, as it would after the kernel's work
 * item had run.
 */
export class FolioBatch {
  readonly cpu: number;
  /** Serialises moves of this batch (see above). Named after the kernel's local lock. */
  readonly lock: Spinlock;
  /** The queued folios, `folios[0..nr)`. */
  folios: Int32Array;
  nr = 0;
  /** The folios detached by the move in flight: `draining[drainPos..drainNr)` are not yet on the LRU. */
  draining: Int32Array | null = null;
  drainNr = 0;
  drainPos = 0;
  /**
   * The array the next move swaps in, made by the first move: an explored machine is built
   * per schedule, and most of its CPUs' batches are never moved.
   */
  #spare: Int32Array | null = null;

  constructor(rt: Runtime, cpu: number) {
    this.cpu = cpu;
    this.lock = new Spinlock(rt, `cpu_fbatches.lock cpu ${cpu}`);
    this.folios = new Int32Array(PAGEVEC_SIZE);
  }

  /**
   * `folio_batch_add` (include/linux/pagevec.h, Linux 6.3): queue `folio` and return the
   * space left (0 means full). The caller checked that there was room.
   */
  add(folio: Folio): number {
    this.folios[this.nr++] = folio;
    return PAGEVEC_SIZE - this.nr;
  }

  /**
   * Takes every queued folio out of the batch for a move (the caller holds `lock`): they
   * become `draining[0..n)` and the batch is empty again. Returns n. The two arrays swap
   * roles (the second is made by the first move).
   */
  detach(): number {
    const n = this.nr;
    const taken = this.folios;
    this.folios = this.#spare ?? new Int32Array(PAGEVEC_SIZE);
    this.#spare = taken;
    this.nr = 0;
    this.draining = taken;
    this.drainNr = n;
    this.drainPos = 0;
    return n;
  }

  /** Ends the move in flight (`folio_batch_reinit`, include/linux/pagevec.h, 6.3). */
  finishDrain(): void {
    this.draining = null;
    this.drainNr = 0;
    this.drainPos = 0;
  }

  /** The folios still waiting for the LRU: queued ones, then those of the move in flight. */
  pending(): Folio[] {
    // A plain loop: `Array.from` of a typed array goes through its iterator (slow per call).
    const out: Folio[] = [];
    const folios = this.folios;
    for (let i = 0; i < this.nr; i++) out.push(folios[i] as number);
    const d = this.draining;
    if (d !== null) for (let i = this.drainPos; i < this.drainNr; i++) out.push(d[i] as number);
    return out;
  }
}
