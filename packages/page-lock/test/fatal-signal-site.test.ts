import { folioTestFlag, PG_locked } from '@mmsim/folio';
import { EINTR, FATAL_SIGNAL_SITE, type KernelGen, type Task } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { LONG, machine } from './helpers.js';

/**
 * `folio_wait_bit_common` (mm/filemap.c, 6.3) checks `signal_pending_state(TASK_KILLABLE,
 * current)` before each sleep: the fault site `signal.fatal_signal_pending` delivers the
 * SIGKILL there.
 */
describe('fault site signal.fatal_signal_pending at a killable folio wait', () => {
  test('folio_lock_killable on a held lock returns -EINTR without the lock, leaving the queue empty', () => {
    const { rt, mem, locks, folio } = machine();
    const f = folio();
    const out: Record<string, unknown> = {};
    let victim: Task | null = null;
    rt.spawn('holder', 0, function* (): KernelGen {
      yield* locks.folioLock(f);
      rt.faults.configure({ [FATAL_SIGNAL_SITE]: { probability: 1 } });
      yield* rt.sleepFor(LONG);
      out.queued = locks.folioWaitQueue(f).length;
      locks.folioUnlock(f);
    });
    victim = rt.spawn('victim', 1, function* (): KernelGen {
      yield* rt.sleepFor(LONG / 4);
      out.ret = yield* locks.folioLockKillable(f);
      out.held = locks.folioLockOwner(f) === victim;
    });
    expect(rt.run().status).toBe('completed');
    expect(out).toEqual({ ret: -EINTR, held: false, queued: 0 });
    expect(victim.fatalSignalPending).toBe(true);
    expect(folioTestFlag(mem, f, PG_locked)).toBe(false);
    expect(rt.fatalSignalSite.injected).toBe(1);
  });

  test('an uncontended folio_lock_killable never reaches the check: 0 with the lock', () => {
    const { rt, locks, folio } = machine();
    const f = folio();
    rt.faults.configure({ [FATAL_SIGNAL_SITE]: { probability: 1 } });
    let ret = -1;
    rt.spawn('t', 0, function* (): KernelGen {
      ret = yield* locks.folioLockKillable(f);
      locks.folioUnlock(f);
    });
    expect(rt.run().status).toBe('completed');
    expect(ret).toBe(0);
    expect(rt.fatalSignalSite.calls).toBe(0);
  });
});
