import type { Folio } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import type { RmapState } from './rmap-state.js';
import { type RmapWalkControl, rmapWalk, rmapWalkLocked } from './rmap-walk.js';

/** A walk control the pool hands out: bound to the machine of the call while in use. */
export interface PooledWalkControl extends RmapWalkControl {
  ctx: RmapState | null;
}

/**
 * @internal A free list of reusable `rmap_walk_control`s of one kind: the kernel builds
 * one on the stack per call; the model takes one here, fills in the call's arguments and
 * gives it back when the walk ends (however it ends), so that a walk allocates nothing. A
 * walk left suspended (a task that never finishes) keeps its control; the next call makes
 * another. Shared by every machine: a control carries no state between calls.
 */
export class WalkControlPool<W extends PooledWalkControl> {
  readonly #free: W[] = [];
  readonly #make: () => W;

  constructor(make: () => W) {
    this.#make = make;
  }

  /** A control bound to `ctx`; fill in the call's fields, then run `walk`. */
  take(ctx: RmapState): W {
    const rwc = this.#free.pop() ?? this.#make();
    rwc.ctx = ctx;
    return rwc;
  }

  /**
   * `rmap_walk(folio, rwc)`, or `rmap_walk_locked` when `locked` (the caller holds the
   * anon_vma or i_mmap lock), with a control from `take`; the control goes back to the
   * pool when the walk ends.
   */
  *walk(ctx: RmapState, folio: Folio, rwc: W, locked: boolean): KernelGen {
    try {
      if (locked) yield* rmapWalkLocked(ctx, folio, rwc);
      else yield* rmapWalk(ctx, folio, rwc);
    } finally {
      rwc.ctx = null;
      this.#free.push(rwc);
    }
  }

  /** @internal Free controls (for tests). */
  get free(): number {
    return this.#free.length;
  }
}
