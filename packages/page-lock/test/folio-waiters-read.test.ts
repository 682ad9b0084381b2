import { type Folio, folioGet } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { folioWaitTableIndex } from '../src/internal.js';
import { LONG, machine } from './helpers.js';

/*
 * `folioWaiters` is what no-lock-held-at-end asks of every live folio at the end of each
 * explored schedule. It reads the folio's hashed queue; it must not make one (a queue is
 * a runtime object with an object id, and the end check made one for nearly every slot
 * of the table, per schedule) nor allocate a list for a folio nobody waits on.
 */
describe('folioWaiters reads the wait table without changing it', () => {
  it('makes no wait queue for folios nobody waits on', () => {
    const { rt, locks, folio } = machine();
    const folios = Array.from({ length: 64 }, () => folio());
    const idBefore = rt.newObjectId();
    for (const f of folios) expect(locks.folioWaiters(f)).toEqual([]);
    // Every queue made takes an object id: the next id follows the one taken above.
    expect(rt.newObjectId()).toBe(idBefore + 1);
  });

  it('answers one shared empty list for folios nobody waits on', () => {
    const { locks, folio } = machine();
    const a = locks.folioWaiters(folio());
    const b = locks.folioWaiters(folio());
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
  });

  it('still lists a waiter, with its bit and kind', () => {
    const { rt, locks, folio } = machine();
    const f = folio();
    const seen: string[] = [];
    rt.spawn('holder', 0, function* () {
      locks.folioTrylock(f);
      yield* rt.sleepFor(LONG);
      seen.push(...locks.folioWaiters(f).map((w) => `${w.task.name} ${w.exclusive}`));
      locks.folioUnlock(f);
    });
    rt.spawn('waiter', 1, function* () {
      yield* locks.folioLock(f);
      locks.folioUnlock(f);
    });
    rt.run();
    expect(seen).toEqual(['waiter true']);
    expect(locks.folioWaiters(f)).toEqual([]);
  });
});

describe('folioWaiterCount', () => {
  it('equals the waiters queued on each folio after every step, through lock, wait, unlock and wake', () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const checks: number[] = [];
      let folios: Folio[] = [];
      let m: ReturnType<typeof machine> | null = null;
      m = machine({
        strategy: 'random',
        seed,
        onStep: () => {
          for (const f of folios) {
            const count = m!.locks.folioWaiterCount(f);
            expect(count, `seed ${seed}, folio ${f}`).toBe(m!.locks.folioWaiters(f).length);
            checks.push(count);
          }
        },
      });
      const { rt, locks, folio } = m;
      // Two folios on one hashed queue (their waiters are counted apart), and a third.
      const a = folio();
      let b = folio();
      while (folioWaitTableIndex(b) !== folioWaitTableIndex(a)) b = folio();
      const c = folio();
      folios = [a, b, c];
      const lockers = (f: Folio, name: string, cpu: number) =>
        rt.spawn(name, cpu, function* (): KernelGen {
          for (let i = 0; i < 3; i++) {
            yield* locks.folioLock(f);
            yield* rt.sleepFor(1000);
            locks.folioUnlock(f);
          }
        });
      lockers(a, 'a1', 0);
      lockers(a, 'a2', 1);
      lockers(b, 'b1', 2);
      lockers(b, 'b2', 3);
      lockers(c, 'c1', 0);
      // Shared waiters: writeback waits on a, a wait for b's unlock, one that drops a ref on c.
      rt.spawn('wb', 1, function* (): KernelGen {
        yield* locks.folioLock(a);
        locks.folioStartWriteback(a);
        locks.folioUnlock(a);
        yield* rt.sleepFor(3000);
        locks.folioEndWriteback(a);
      });
      rt.spawn('waitwb', 2, function* (): KernelGen {
        yield* rt.sleepFor(500);
        yield* locks.folioWaitWriteback(a);
      });
      rt.spawn('waitlocked', 3, function* (): KernelGen {
        yield* locks.folioWaitLocked(b);
        folioGet(m!.mem, c);
        yield* locks.folioPutWaitLocked(c, false);
      });
      rt.run();
      // Somebody waited at some step, and nobody is left waiting.
      expect(Math.max(...checks), `seed ${seed}`).toBeGreaterThan(0);
      for (const f of folios) expect(locks.folioWaiterCount(f)).toBe(0);
    }
  });

  it('makes no wait queue for folios nobody waits on', () => {
    const { rt, locks, folio } = machine();
    const folios = Array.from({ length: 64 }, () => folio());
    const idBefore = rt.newObjectId();
    for (const f of folios) expect(locks.folioWaiterCount(f)).toBe(0);
    expect(rt.newObjectId()).toBe(idBefore + 1);
  });
});
