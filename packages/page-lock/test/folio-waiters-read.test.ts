import { describe, expect, it } from 'vitest';
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
