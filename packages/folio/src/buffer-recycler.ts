import { MmsimError } from '@mmsim/runtime';

/** Buffers kept per byte length: a machine takes a handful of each size. */
const MAX_KEPT_PER_SIZE = 16;

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
  readonly #free = new Map<number, ArrayBuffer[]>();

  /** A zeroed buffer of `bytes` bytes: a handed-back one if there is one, else a new one. */
  take(bytes: number): ArrayBuffer {
    const kept = this.#free.get(bytes);
    const buffer = kept === undefined ? undefined : kept.pop();
    if (buffer === undefined) return new ArrayBuffer(bytes);
    new Uint8Array(buffer).fill(0);
    return buffer;
  }

  /** Keeps `buffers` for later `take`s (up to a few of each size; the rest are dropped). */
  giveBack(buffers: readonly ArrayBuffer[]): void {
    for (const buffer of buffers) {
      if (!(buffer instanceof ArrayBuffer)) {
        throw new MmsimError('INVALID_ARGUMENT', 'BufferRecycler.giveBack: not an ArrayBuffer');
      }
      let kept = this.#free.get(buffer.byteLength);
      if (kept === undefined) {
        kept = [];
        this.#free.set(buffer.byteLength, kept);
      }
      if (kept.length < MAX_KEPT_PER_SIZE && !kept.includes(buffer)) kept.push(buffer);
    }
  }

  /** Buffers kept now (for tests). */
  get kept(): number {
    let n = 0;
    for (const kept of this.#free.values()) n += kept.length;
    return n;
  }
}
