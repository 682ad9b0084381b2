import { folioAlloc } from '@mmsim/folio';
import { createKernel } from '@mmsim/kernel';
import { type KernelGen, Mutex } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { DriverLockWatch } from '../src/index.js';

/**
 * A machine with the dependency checker on, two pages, a driver mutex watched by the kit,
 * and a task that takes the mutex inside a "callback" (as migrate_page would, under the
 * page lock of `a`).
 */
function machine() {
  const k = createKernel({
    nodes: [{ pages: 16 }],
    cpusPerNode: 2,
    dependencyChecking: { lockClass: 'folio' },
  });
  const a = folioAlloc(k.mem, 0, 0);
  const b = folioAlloc(k.mem, 0, 0);
  const state = { pool: { lock: new Mutex(k.rt, 'pool_lock') } };
  const watch = new DriverLockWatch(k, 'drv');
  watch.watch(state);
  const lock = state.pool.lock;
  k.rt.spawn('migrate', 0, function* (): KernelGen {
    yield* k.locks.folioLock(a, 'migrate_pages');
    watch.enterCallback();
    if (lock.trylock()) lock.unlock();
    watch.leaveCallback();
    k.locks.folioUnlock(a);
  });
  return { k, a, b, lock, watch };
}

describe('the kit\u2019s lock-order check', () => {
  it('finds the driver lock in the checker, and an order inverted on another page than the one migrated', () => {
    const { k, b, lock, watch } = machine();
    k.rt.spawn('reclaim', 1, function* (): KernelGen {
      yield* lock.lock();
      yield* k.locks.folioLock(b, 'reclaim'); // a different frame from the migrated one
      k.locks.folioUnlock(b);
      lock.unlock();
    });
    expect(k.rt.run().status).toBe('completed');
    expect([...watch.classes]).toEqual(['drv:pool_lock']);
    // Per frame, the page-lock checker sees no cycle ...
    expect(k.checker?.reports).toEqual([]);
    // ... but with page locks as one class the order is inverted.
    const line = watch.inversion();
    expect(line).toMatch(/^drv: locks taken in both orders \(a possible deadlock\): /);
    expect(line).toContain('migrate holds page lock (migrate_pages) and takes drv:pool_lock');
    expect(line).toContain(
      'reclaim holds drv:pool_lock (mutex_lock) and takes page lock in reclaim',
    );
  });

  it('accepts a driver that only trylocks pages under its lock, and one that drops its lock first', () => {
    const { k, b, lock, watch } = machine();
    k.rt.spawn('deflate', 1, function* (): KernelGen {
      yield* lock.lock();
      if (k.locks.folioTrylock(b, 'balloon_page_dequeue')) k.locks.folioUnlock(b);
      lock.unlock();
      yield* k.locks.folioLock(b, 'after'); // no longer under the lock
      k.locks.folioUnlock(b);
    });
    expect(k.rt.run().status).toBe('completed');
    expect(watch.inversion()).toBeNull();
  });
});
