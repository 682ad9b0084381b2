import { MmsimError } from '@mmsim/runtime';

/** Buffers kept per byte length: a machine takes a handful of each size. */
const MAX_KEPT_PER_SIZE = 16;

/** Options of a `BufferRecycler`. */
export interface BufferRecyclerOptions {
  /**
   * Check, when handing out a buffer given back as already zeroed (`giveBackZeroed`), that
   * it is: every byte 0, else INVARIANT_VIOLATED (a machine wrote where its owner promised
   * nothing writes). For tests; default false.
   */
  readonly checkZeroed?: boolean;
}

/**
 * Zeroed `ArrayBuffer`s by byte length, handed back by machines that are done with them
 * for the next machine of the same size: an explorer builds a machine per schedule, and
 * allocating its per-frame arrays (and collecting them afterwards) costs far more than
 * zero-filling buffers of a few KiB. One recycler serves one thread (a worker's
 * exploration target keeps one); it is not a model of anything in the kernel.
 *
 * A machine built with a recycler (`createPhysicalMemory(config, recycler)`) takes its
 * per-frame arrays from it (`frameArrayI32` and `frameArrayU8` give the other packages'
 * per-frame arrays of the same machine); `releasePhysicalMemory` hands them back, after
 * which the machine must not be used.
 */
export class BufferRecycler {
  /** Buffers given back as they were left: zero-filled when taken. */
  readonly #free = new Map<number, ArrayBuffer[]>();
  /** Buffers given back already zeroed (`giveBackZeroed`): taken as they are. */
  readonly #zeroed = new Map<number, ArrayBuffer[]>();
  /**
   * Buffers given back in a state one owner knows (`giveBackAsLeft`), by owner, then by
   * byte length: taken as they are, by that owner only (`takeAsLeft`).
   */
  readonly #asLeft = new Map<object, Map<number, ArrayBuffer[]>>();
  readonly #checkZeroed: boolean;

  constructor(options: BufferRecyclerOptions = {}) {
    if (options.checkZeroed !== undefined && typeof options.checkZeroed !== 'boolean') {
      throw new MmsimError('INVALID_ARGUMENT', 'BufferRecycler: checkZeroed must be a boolean');
    }
    this.#checkZeroed = options.checkZeroed === true;
  }

  /** A zeroed buffer of `bytes` bytes: a handed-back one if there is one, else a new one. */
  take(bytes: number): ArrayBuffer {
    const zeroed = this.#zeroed.get(bytes)?.pop();
    if (zeroed !== undefined) {
      if (this.#checkZeroed) checkZeroed(zeroed);
      return zeroed;
    }
    const kept = this.#free.get(bytes);
    const buffer = kept === undefined ? undefined : kept.pop();
    if (buffer === undefined) return new ArrayBuffer(bytes);
    new Uint8Array(buffer).fill(0);
    return buffer;
  }

  /**
   * True when the recycler was made with `checkZeroed`: the owner of a buffer handed out as
   * it was left (`takeAsLeft`) checks it is in the state it was promised in.
   */
  get checking(): boolean {
    return this.#checkZeroed;
  }

  /**
   * A buffer of `bytes` bytes that `owner` gave back with `giveBackAsLeft`, as it was given
   * back (not zeroed), or undefined when there is none. Only `owner` knows what it holds:
   * the memory map of a node layout (physical-memory.ts) gives its frames buffer back in the
   * state its constructor leaves it, so that the next one skips its fills.
   */
  takeAsLeft(bytes: number, owner: object): ArrayBuffer | undefined {
    return this.#asLeft.get(owner)?.get(bytes)?.pop();
  }

  /**
   * Keeps `buffer` for a later `takeAsLeft(buffer.byteLength, owner)`, not zeroed (up to a
   * few of each size and owner; the rest are dropped).
   */
  giveBackAsLeft(buffer: ArrayBuffer, owner: object): void {
    if (!(buffer instanceof ArrayBuffer)) {
      throw new MmsimError('INVALID_ARGUMENT', 'BufferRecycler.giveBackAsLeft: not an ArrayBuffer');
    }
    let bySize = this.#asLeft.get(owner);
    if (bySize === undefined) {
      bySize = new Map();
      this.#asLeft.set(owner, bySize);
    }
    let kept = bySize.get(buffer.byteLength);
    if (kept === undefined) {
      kept = [];
      bySize.set(buffer.byteLength, kept);
    }
    if (kept.length >= MAX_KEPT_PER_SIZE || kept.includes(buffer)) return;
    kept.push(buffer);
  }

  /** Keeps `buffers` for later `take`s (up to a few of each size; the rest are dropped). */
  giveBack(buffers: readonly ArrayBuffer[]): void {
    for (const buffer of buffers) this.#keep(this.#free, buffer);
  }

  /**
   * Keeps `buffer`, whose every byte the caller has set to 0 (or left at 0), for a later
   * `take` that hands it out without zeroing it again: a machine that knows which parts of
   * a buffer it wrote zeroes those only (`releasePhysicalMemory`: the memory map's frames
   * outside the node holes).
   */
  giveBackZeroed(buffer: ArrayBuffer): void {
    this.#keep(this.#zeroed, buffer);
  }

  #keep(to: Map<number, ArrayBuffer[]>, buffer: ArrayBuffer): void {
    if (!(buffer instanceof ArrayBuffer)) {
      throw new MmsimError('INVALID_ARGUMENT', 'BufferRecycler.giveBack: not an ArrayBuffer');
    }
    const size = buffer.byteLength;
    let kept = to.get(size);
    if (kept === undefined) {
      kept = [];
      to.set(size, kept);
    }
    const other = (to === this.#free ? this.#zeroed : this.#free).get(size);
    if (kept.length + (other?.length ?? 0) >= MAX_KEPT_PER_SIZE) return;
    if (kept.includes(buffer) || other?.includes(buffer) === true) return;
    kept.push(buffer);
  }

  /** Buffers kept now (for tests). */
  get kept(): number {
    let n = 0;
    for (const kept of this.#free.values()) n += kept.length;
    for (const kept of this.#zeroed.values()) n += kept.length;
    for (const bySize of this.#asLeft.values()) {
      for (const kept of bySize.values()) n += kept.length;
    }
    return n;
  }
}

/** Throws INVARIANT_VIOLATED naming the first byte of `buffer` that is not 0. */
function checkZeroed(buffer: ArrayBuffer): void {
  const bytes = new Uint8Array(buffer);
  const at = bytes.findIndex((b) => b !== 0);
  if (at >= 0) {
    throw new MmsimError(
      'INVARIANT_VIOLATED',
      `BufferRecycler: a buffer of ${buffer.byteLength} bytes given back as zeroed has byte ${at} = ${bytes[at]}`,
    );
  }
}
