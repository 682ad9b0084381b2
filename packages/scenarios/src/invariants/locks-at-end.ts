import { folioFlags, PG_locked, PG_writeback } from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import type { BufferHead } from '@mmsim/page-lock';
import type { Invariant } from '@mmsim/runtime';
import { FolioWalk } from './folios.js';
import { firstProblem } from './invariant.js';

/**
 * `no-lock-held-at-end`: when every task has ended, no folio is locked or under writeback,
 * no buffer is locked, and nobody waits on a folio (a waiter left on a hashed queue would
 * be a lost wake-up). Checked once, at the end.
 *
 * Kernel rule (include/linux/pagemap.h, mm/filemap.c, 6.3): every `folio_lock` is paired
 * with a `folio_unlock`, every `folio_start_writeback` with `folio_end_writeback` (once the
 * I/O completes), every `lock_buffer` with `unlock_buffer`, and the unlock wakes the
 * waiters of the folio's hashed queue (`folio_wake_bit`). While tasks run these are held
 * legally, so only the end state is checked.
 */
export function noLockHeldAtEnd(k: Kernel): Invariant {
  return {
    name: 'no-lock-held-at-end',
    // Null at every step: the explorer calls it only at the end.
    endOnly: true,
    check(phase) {
      if (phase !== 'end') return null;
      const problems: string[] = [];
      const owner = (task: { toString(): string } | null) =>
        task === null ? 'nobody' : String(task);
      const locks = k.locks;
      const walk = new FolioWalk(k.mem);
      for (let folio = walk.first(); folio >= 0; folio = walk.next(folio)) {
        const flags = folioFlags(k.mem, folio);
        if ((flags & (1 << PG_locked)) !== 0) {
          problems.push(
            `folio ${folio} is still locked (owner ${owner(k.locks.folioLockOwner(folio))})`,
          );
        }
        if ((flags & (1 << PG_writeback)) !== 0) {
          problems.push(
            `folio ${folio} is still under writeback (owner ${owner(k.locks.folioWritebackOwner(folio))})`,
          );
        }
        // The page locks' count (no list per folio), or the list's length where a
        // replacement of the page locks does not count.
        const waiters = locks.folioWaiterCount?.(folio) ?? locks.folioWaiters(folio).length;
        if (waiters > 0) problems.push(`folio ${folio} still has ${waiters} waiter(s)`);
        const head = k.locks.folioBuffers(folio);
        if (head !== null) {
          let bh: BufferHead = head;
          do {
            if (k.locks.bufferLocked(bh)) {
              problems.push(
                `buffer ${bh.index} of folio ${folio} is still locked (owner ${owner(k.locks.bufferLockOwner(bh))})`,
              );
            }
            bh = bh.thisPage;
          } while (bh !== head);
        }
      }
      return firstProblem(problems);
    },
  };
}
