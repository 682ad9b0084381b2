import { setPageContent } from '@mmsim/folio';
import {
  type Actor,
  filemapGetFolioPlain,
  folioPutDeclaredPlain,
  type Kernel,
  pageCacheDeclaresFootprints,
} from '@mmsim/kernel';
import type { AddressSpaceView } from '@mmsim/rmap';
import { FP_FOLIO, type KernelGen, MmsimError, type Task } from '@mmsim/runtime';
import type { LoopDevice } from './loop-device.js';

/** Options of `bufferWriter`. */
export interface BufferWriterOptions {
  /** Default `jbd2/loop0`. */
  readonly name?: string;
  readonly cpu: number;
  /** The loop device whose page cache holds the buffers (its `dev` mapping). */
  readonly loop: LoopDevice;
  /** Device pages whose (first) buffer it writes, in this order. */
  readonly indices: readonly number[];
  readonly rounds: number;
}

/**
 * A filesystem on a loop device writing metadata through the device's buffer cache, as
 * ext4 and jbd2 do (`__find_get_block`, `lock_buffer`, modify, `mark_buffer_dirty`,
 * `submit_bh(REQ_OP_WRITE)`: `write_dirty_buffer` / `__sync_dirty_buffer`, fs/buffer.c,
 * 6.3). It takes a reference and the lock of the buffer, stores a new word in the
 * buffer's page (recorded in the shadow), and submits it to the loop device, which keeps
 * the buffer locked until its worker has written the backing file. It never holds a folio
 * lock.
 */
export function bufferWriter(k: Kernel, options: BufferWriterOptions): Actor {
  const { loop, indices, rounds } = options;
  const dev = loop.dev;
  if (dev === null) {
    throw new MmsimError('INVALID_ARGUMENT', `${loop.name} has no page cache (dev) for buffers`);
  }
  return {
    name: options.name ?? `jbd2/${loop.name}`,
    cpu: options.cpu,
    models:
      'ext4/jbd2 metadata write: __find_get_block, lock_buffer, mark_buffer_dirty, submit_bh (fs/buffer.c, 6.3) on the loop device',
    // Every shared access is recorded: the lookup, the buffer's reference and lock (as its
    // folio's), the store into the buffer's page, the submission to the loop device.
    declaresFootprints: pageCacheDeclaresFootprints(k),
    body: (task: Task): KernelGen => bufferWriterBody(k, loop, dev, indices, rounds, task),
  };
}

/** `bufferWriter`'s task body (a module-level generator: see `initTask` in scenario.ts). */
function* bufferWriterBody(
  k: Kernel,
  loop: LoopDevice,
  dev: AddressSpaceView,
  indices: readonly number[],
  rounds: number,
  task: Task,
): KernelGen {
  const who = String(task);
  for (let round = 0; round < rounds; round++) {
    for (const index of indices) {
      // __find_get_block: the buffer, with a reference, without the folio lock.
      const got = filemapGetFolioPlain(k, dev, index);
      const folio = typeof got === 'number' ? got : yield* got;
      if (folio < 0) continue;
      const bh = k.locks.folioBuffers(folio);
      if (bh !== null) k.locks.getBh(bh);
      const rest = folioPutDeclaredPlain(k, folio);
      if (rest !== null) yield* rest;
      if (bh === null) continue;
      if (!k.locks.lockBufferFast(bh, 'lock_buffer'))
        yield* k.locks.lockBufferContended(bh, 'lock_buffer');
      const value = task.id * 1_000_000 + round * indices.length + index + 1;
      k.rt.touchKernel(FP_FOLIO, bh.folio, true);
      setPageContent(k.mem, bh.folio, value); // the buffer's page, stable under its lock
      k.shadow.wroteFile(dev, index, value, who); // no location object per write
      loop.submitBuffer(bh, index);
      // The same step and decision as a `yield`, without suspending when this task runs on.
      if (!k.rt.virtualStep()) yield;
    }
  }
  loop.close();
}
