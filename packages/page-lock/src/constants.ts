/**
 * Constants of the page wait machinery, with the values of Linux 6.3.
 */

/** `PAGE_WAIT_TABLE_BITS` (mm/filemap.c): the folio wait table has 2^8 hashed queues. */
export const PAGE_WAIT_TABLE_BITS = 8;
/** `PAGE_WAIT_TABLE_SIZE` (mm/filemap.c). */
export const PAGE_WAIT_TABLE_SIZE = 1 << PAGE_WAIT_TABLE_BITS;

/** `WAIT_TABLE_BITS` (kernel/sched/wait_bit.c): the bit wait table used by buffer locks. */
export const WAIT_TABLE_BITS = 8;
/** `WAIT_TABLE_SIZE` (kernel/sched/wait_bit.c). */
export const WAIT_TABLE_SIZE = 1 << WAIT_TABLE_BITS;

/** Default of the `page_lock_unfairness` sysctl (`sysctl_page_lock_unfairness`, mm/filemap.c). */
export const DEFAULT_PAGE_LOCK_UNFAIRNESS = 5;

/* wait_queue_entry flags (include/linux/wait.h, 6.3). */

/** The entry waits exclusively (one is woken per wake-up). */
export const WQ_FLAG_EXCLUSIVE = 0x01;
/** The waker has done what the waiter waited for and woken it. */
export const WQ_FLAG_WOKEN = 0x02;
/** `wake_page_function`: the waker must hand the lock over (fair hand-off). */
export const WQ_FLAG_CUSTOM = 0x08;
/** The bit was taken (by the waiter itself or by the waker on its behalf). */
export const WQ_FLAG_DONE = 0x10;

/* enum bh_state_bits (include/linux/buffer_head.h, 6.3); only the ones the model uses. */

/** The buffer contains valid data. */
export const BH_Uptodate = 0;
/** The buffer is dirty. */
export const BH_Dirty = 1;
/** The buffer is locked (`lock_buffer`). */
export const BH_Lock = 2;
/** The buffer has been submitted for I/O. */
export const BH_Req = 3;
/** The buffer has a disk mapping. */
export const BH_Mapped = 4;

/**
 * `GOLDEN_RATIO_32` (include/linux/hash.h): the multiplier of `hash_32`, which the model
 * uses in place of `hash_ptr` / `hash_long` on 64-bit (the hashed value here is a pfn or a
 * buffer id, not an address, so the exact bucket of a given folio differs from a real
 * kernel; the distribution and the collisions are of the same kind).
 */
export const GOLDEN_RATIO_32 = 0x61c88647;
