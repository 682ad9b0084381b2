import type { Folio } from '@mmsim/folio';
import { MmsimError, type Resource, type Runtime, type Task } from '@mmsim/runtime';
import { BH_Lock } from './constants.js';
import { hex } from './folio-hex.js';

/**
 * A buffer head (`struct buffer_head`, include/linux/buffer_head.h, Linux 6.3), as far as
 * migration needs one: the folio it belongs to, its place in it, its state bits, its
 * reference count and the ring of the folio's buffers. Read-only to users; change it
 * through `PageLocks`.
 */
export interface BufferHead {
  /** `b_page`: the folio the buffer belongs to (`setBhPage` moves it, as migration does). */
  readonly folio: Folio;
  /** Position in the folio: `bh_offset(bh) / b_size`. */
  readonly index: number;
  /** `b_size` in bytes. */
  readonly size: number;
  /** `b_state`: BH_* bits. */
  readonly state: number;
  /** `b_count`. */
  readonly count: number;
  /** `b_this_page`: the next buffer of the same folio; the last one points at the first. */
  readonly thisPage: BufferHead;
}

/** The model's buffer head: the public fields plus a hash id and the lock owner. */
export class Bh implements BufferHead {
  folio: Folio;
  readonly index: number;
  readonly size: number;
  state: number;
  count = 0;
  thisPage: Bh = this;
  /** Stands for the address of b_state when hashing into the bit wait table. */
  readonly id: number;
  /** Task id holding BH_Lock, 0 when unlocked. */
  owner = 0;
  #resource: Resource | null = null;

  constructor(id: number, folio: Folio, index: number, size: number, state: number) {
    this.id = id;
    this.folio = folio;
    this.index = index;
    this.size = size;
    this.state = state;
  }

  /** `buffer 2 of folio 0x1200`, for messages. */
  describe(): string {
    return `buffer ${this.index} of folio ${hex(this.folio)}`;
  }

  /** The Resource a waiter for BH_Lock sleeps on; its holder is the lock owner. */
  lockResource(rt: Runtime): Resource {
    if (this.#resource === null) this.#resource = new BhLockResource(this, rt);
    return this.#resource;
  }

  get locked(): boolean {
    return (this.state & (1 << BH_Lock)) !== 0;
  }
}

/**
 * The Resource of a buffer's BH_Lock. A class with its getter on the prototype, not an
 * object literal with a getter: on Node 20 a literal's getter closure goes into a map of the
 * old generation, and through the closure's context (the runtime) keeps the whole machine
 * alive through every young-generation collection until a full one.
 */
class BhLockResource implements Resource {
  readonly #bh: Bh;
  readonly #rt: Runtime;

  constructor(bh: Bh, rt: Runtime) {
    this.#bh = bh;
    this.#rt = rt;
  }

  get name(): string {
    return `${this.#bh.describe()} BH_Lock`;
  }

  holders(): readonly Task[] {
    const task = this.#rt.taskById(this.#bh.owner);
    return task === undefined ? [] : [task];
  }
}

/** Throws INVALID_ARGUMENT unless `bh` is a buffer head made by `createBuffers`. */
export function asBh(bh: BufferHead): Bh {
  if (!(bh instanceof Bh)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `not a buffer head made by createBuffers: ${String(bh)}`,
    );
  }
  return bh;
}
