import { type KernelGen, Mutex } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { hex, machine } from './helpers.js';

/**
 * The checker's `holdLock` / `dependLock` / `releaseLock`: locks that are not page locks (a
 * movable-page driver's own mutex, say) join the dependency graph next to the folio locks.
 */
describe('page-lock dependency checker: other locks', () => {
  test('a driver mutex taken under a folio lock, and a folio lock taken under it, close a cycle', () => {
    const { rt, locks, folio } = machine({}, { dependencyChecking: true });
    const checker = locks.checker!;
    const page = folio();
    const m = new Mutex(rt, 'pool_lock');
    rt.spawn('migrate', 0, function* (): KernelGen {
      yield* locks.folioLock(page, 'migrate_pages');
      checker.dependLock(rt.current, 'pool_lock', 'mutex_lock');
      yield* m.lock();
      checker.holdLock(rt.current, m, 'pool_lock', 'zs_page_migrate');
      m.unlock();
      checker.releaseLock(rt.current, m);
      locks.folioUnlock(page);
    });
    rt.spawn('free', 1, function* (): KernelGen {
      checker.dependLock(rt.current, 'pool_lock', 'mutex_lock');
      yield* m.lock();
      checker.holdLock(rt.current, m, 'pool_lock', 'zs_free');
      yield* locks.folioLock(page, 'zs_free');
      locks.folioUnlock(page);
      m.unlock();
      checker.releaseLock(rt.current, m);
    });
    expect(rt.run().status).toBe('completed');
    const cycle = checker.reports[0]?.cycle.map((e) => `${e.task.name}: ${e.from} -> ${e.to}`);
    expect(cycle?.sort()).toEqual(
      [`migrate: folio ${hex(page)} -> pool_lock`, `free: pool_lock -> folio ${hex(page)}`].sort(),
    );
    expect(checker.heldBy(rt.tasks[0]!)).toEqual([]);
  });

  test('the same order everywhere, and a released lock, make no report', () => {
    const { rt, locks, folio } = machine({}, { dependencyChecking: true });
    const checker = locks.checker!;
    const page = folio();
    const m = new Mutex(rt, 'pool_lock');
    for (const [name, cpu] of [
      ['a', 0],
      ['b', 1],
    ] as const) {
      rt.spawn(name, cpu, function* (): KernelGen {
        checker.dependLock(rt.current, 'pool_lock', 'mutex_lock');
        yield* m.lock();
        checker.holdLock(rt.current, m, 'pool_lock', 'op');
        m.unlock();
        checker.releaseLock(rt.current, m);
        // Released: this folio lock is not taken under pool_lock.
        yield* locks.folioLock(page, 'op');
        locks.folioUnlock(page);
      });
    }
    expect(rt.run().status).toBe('completed');
    expect(checker.reports).toEqual([]);
    expect(checker.dependencies).toEqual([]);
  });
});
