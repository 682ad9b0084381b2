import {
  type Folio,
  folioAttachPrivate,
  folioGetPrivate,
  folioNrPages,
  folioTestFlag,
  PG_dirty,
  PG_private,
  PG_uptodate,
} from '@mmsim/folio';
import { MmsimError } from '@mmsim/runtime';
import { asBh, Bh, type BufferHead } from './buffer-head.js';
import { BH_Dirty, BH_Lock, BH_Uptodate } from './constants.js';
import { contract } from './contract-violation.js';
import { hex } from './folio-hex.js';
import type { PageLockState } from './page-lock-state.js';

/**
 * Buffer heads of a folio (fs/buffer.c and include/linux/buffer_head.h, Linux 6.3): their
 * creation, the ring on `folio->private`, the reference count and BH_Uptodate. BH_Lock is
 * in buffer-lock.ts.
 */

const PAGE_SIZE = 4096;

/** The buffer-id counter of a table (ids only hash buffers into the bit wait table). */
export interface BufferIds {
  next: number;
}

/**
 * `create_empty_buffers(page, blocksize, b_state)` (fs/buffer.c, 6.3) with the block size
 * given as a number of buffers: `count` buffers of `folio_size / count` bytes, linked in a
 * ring through `thisPage`, each with `state` (BH_* bits, BH_Lock excluded: lock a buffer
 * with lockBuffer), plus BH_Uptodate / BH_Dirty if the folio is uptodate / dirty, attached
 * with `folio_attach_private` (PG_private and one folio reference). Block sizes are powers
 * of two from 512 bytes to PAGE_SIZE, so `count` is 1, 2, 4 or 8 times the folio's pages.
 * The kernel calls it with the folio locked; the model does not insist, so tests and
 * scenarios can build buffers before a run. Returns the first buffer (`folio_buffers`).
 */
export function createBuffers(
  ctx: PageLockState,
  ids: BufferIds,
  folio: Folio,
  count: number,
  state: number,
): BufferHead {
  const mem = ctx.mem;
  const nr = folioNrPages(mem, folio);
  const perPage = count / nr;
  if (!Number.isInteger(count) || ![1, 2, 4, 8].includes(perPage)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `createBuffers: folio ${hex(folio)} has ${nr} page(s); count must be 1, 2, 4 or 8 times ` +
        `that (block sizes 4096 to 512 bytes), got ${String(count)}`,
    );
  }
  if (!Number.isInteger(state) || state < 0 || (state & (1 << BH_Lock)) !== 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `createBuffers: state must be BH_* bits without BH_Lock (lock buffers with lockBuffer), got ${String(state)}`,
    );
  }
  if (folioTestFlag(mem, folio, PG_private)) {
    throw contract(
      `createBuffers: folio ${hex(folio)} already has private data (PG_private); ` +
        'create_empty_buffers is only called on a folio without buffers',
    );
  }
  let bits = state;
  if (folioTestFlag(mem, folio, PG_uptodate)) bits |= 1 << BH_Uptodate;
  if (folioTestFlag(mem, folio, PG_dirty)) bits |= 1 << BH_Dirty;
  const size = (PAGE_SIZE * nr) / count;
  const bhs: Bh[] = [];
  for (let i = 0; i < count; i++) bhs.push(new Bh(ids.next + i, folio, i, size, bits));
  bhs.forEach((bh, i) => {
    bh.thisPage = bhs[(i + 1) % count] as Bh;
  });
  const head = bhs[0] as Bh;
  folioAttachPrivate(mem, folio, head);
  ids.next += count;
  return head;
}

/** `folio_buffers` (include/linux/buffer_head.h, 6.3): the first buffer, or null. */
export function folioBuffers(ctx: PageLockState, folio: Folio): BufferHead | null {
  if (!folioTestFlag(ctx.mem, folio, PG_private)) return null;
  const priv = folioGetPrivate(ctx.mem, folio);
  return priv instanceof Bh ? priv : null;
}

/**
 * `set_bh_page(bh, page, offset)` (fs/buffer.c, 6.3): point the buffer at another folio,
 * as `__buffer_migrate_folio` does for each buffer after moving `folio->private` to dst.
 */
export function setBhPage(ctx: PageLockState, bh: BufferHead, folio: Folio): void {
  const b = asBh(bh);
  folioTestFlag(ctx.mem, folio, PG_private); // throws unless folio is a live folio
  b.folio = folio;
}

/** `get_bh`: take a reference on the buffer (`b_count`). */
export function getBh(bh: BufferHead): void {
  asBh(bh).count++;
}

/** `put_bh`: drop a reference; below zero is a COUNT_UNDERFLOW. */
export function putBh(bh: BufferHead): void {
  const b = asBh(bh);
  if (b.count === 0) {
    throw new MmsimError(
      'COUNT_UNDERFLOW',
      `put_bh on ${b.describe()} at b_count 0: a reference was put that was never taken`,
    );
  }
  b.count--;
}

/** `buffer_uptodate`. */
export function bufferUptodate(bh: BufferHead): boolean {
  return (asBh(bh).state & (1 << BH_Uptodate)) !== 0;
}

/** `set_buffer_uptodate`. */
export function setBufferUptodate(bh: BufferHead): void {
  asBh(bh).state |= 1 << BH_Uptodate;
}

/** `clear_buffer_uptodate`. */
export function clearBufferUptodate(bh: BufferHead): void {
  asBh(bh).state &= ~(1 << BH_Uptodate);
}
