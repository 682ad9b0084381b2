import { folioAlloc, folioFlags, folioPut, folioSetFlag, PG_locked } from '@mmsim/folio';
import { type KernelGen, Spinlock } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { PageLockTable } from '../src/index.js';
import { hex, LONG, machine, thrown } from './helpers.js';

describe('folio lock contracts', () => {
  test('unlock by a task that does not hold the lock throws, naming both, and changes nothing', () => {
    const { rt, mem, locks, folio } = machine();
    const f = folio();
    rt.spawn('owner', 0, function* (): KernelGen {
      yield* locks.folioLock(f);
      yield* rt.sleepFor(LONG);
      locks.folioUnlock(f);
    });
    rt.spawn('thief', 1, function* (): KernelGen {
      yield* rt.sleepFor(10);
      const before = folioFlags(mem, f);
      const e = thrown(() => locks.folioUnlock(f));
      expect(e.code).toBe('CONTRACT_VIOLATION');
      expect(e.message).toBe(
        `thief-2 unlocks folio ${hex(f)}, which is locked by owner-1: only the owner may; ` +
          'an I/O submitter hands the lock to the completing task with folioLockTransfer',
      );
      expect(folioFlags(mem, f)).toBe(before);
      expect(locks.folioLockOwner(f)?.name).toBe('owner');
    });
    expect(rt.run().status).toBe('completed');
  });

  test('unlocking an unlocked folio, or one locked behind the table, throws', () => {
    const { rt, mem, locks, folio } = machine();
    const f = folio();
    const g = folio();
    folioSetFlag(mem, g, PG_locked);
    const messages: string[] = [];
    rt.spawn('t', 0, function* (): KernelGen {
      messages.push(thrown(() => locks.folioUnlock(f)).message);
      messages.push(thrown(() => locks.folioUnlock(g)).message);
    });
    expect(rt.run().status).toBe('completed');
    expect(messages).toEqual([
      `t-1 unlocks folio ${hex(f)}, which is not locked`,
      `t-1 unlocks folio ${hex(g)}, whose PG_locked was set without PageLocks (its owner is unknown): lock folios with folioTrylock / folioLock`,
    ]);
  });

  test('sleeping on a lock the task already holds throws instead of hanging, and queues nothing', () => {
    const { rt, mem, locks, folio } = machine();
    const f = folio();
    const ptl = new Spinlock(rt, 'ptl');
    const messages: string[] = [];
    rt.spawn('t', 0, function* (): KernelGen {
      yield* locks.folioLock(f, 'first');
      const before = folioFlags(mem, f);
      for (const gen of [
        () => locks.folioLock(f, 'migrate_folio_unmap'),
        () => locks.folioLockKillable(f),
        () => locks.folioWaitLocked(f),
        () => locks.folioPutWaitLocked(f, false),
      ]) {
        const e = thrown(() => gen().next());
        expect(e.code).toBe('CONTRACT_VIOLATION');
        messages.push(e.message);
      }
      ptl.trylock();
      messages.push(thrown(() => locks.migrationEntryWaitOnLocked(f, ptl).next()).message);
      expect(ptl.owner).not.toBe(null); // not dropped
      ptl.unlock();
      expect(folioFlags(mem, f)).toBe(before);
      expect(locks.folioWaitQueue(f).length).toBe(0);
      locks.folioUnlock(f);
    });
    expect(rt.run().status).toBe('completed');
    expect(messages[0]).toBe(
      `t-1 sleeps in migrate_folio_unmap on folio ${hex(f)}, whose lock it already holds: the wait could never end (a self-deadlock)`,
    );
    expect(messages.slice(1).map((m) => m.split(' on ')[0])).toEqual([
      't-1 sleeps in folio_lock_killable',
      't-1 sleeps in folio_wait_locked',
      't-1 sleeps in folio_put_wait_locked',
      't-1 sleeps in migration_entry_wait_on_locked',
    ]);
  });

  test('a sleeping lock under a spinlock is a bug even when uncontended; a trylock is fine', () => {
    const { rt, mem, locks, folio } = machine();
    const f = folio();
    const spin = new Spinlock(rt, 'lru_lock');
    rt.spawn('t', 0, function* (): KernelGen {
      spin.trylock();
      const e = thrown(() => locks.folioLock(f).next());
      expect(e.code).toBe('SLEEP_IN_ATOMIC');
      expect(folioFlags(mem, f) & (1 << PG_locked)).toBe(0);
      expect(locks.folioTrylock(f)).toBe(true);
      locks.folioUnlock(f);
      spin.unlock();
    });
    expect(rt.run().status).toBe('completed');
  });

  test('the migration-entry wait must be given a page-table lock the caller holds', () => {
    const { rt, locks, folio } = machine();
    const f = folio();
    const ptl = new Spinlock(rt, 'ptl');
    rt.spawn('t', 0, function* (): KernelGen {
      const e = thrown(() => locks.migrationEntryWaitOnLocked(f, ptl).next());
      expect(e.message).toBe(
        `t-1 waits in migration_entry_wait_on_locked on folio ${hex(f)} with page-table lock ptl, which it does not hold (held by nobody)`,
      );
    });
    expect(rt.run().status).toBe('completed');
  });

  test('bad arguments: a freed folio, a tail page, a hand-over to an ended task, no task', () => {
    const { rt, mem, locks, folio } = machine();
    const big = folioAlloc(mem, 2, 0);
    const f = folio();
    folioPut(mem, f);
    const done = rt.spawn('early', 1, function* (): KernelGen {});
    rt.spawn('t', 0, function* (): KernelGen {
      yield* rt.sleepFor(10);
      expect(thrown(() => locks.folioTrylock(f)).code).toBe('USE_AFTER_FREE');
      expect(thrown(() => locks.folioTrylock(big + 1)).code).toBe('INVALID_ARGUMENT');
      yield* locks.folioLock(big);
      const e = thrown(() => locks.folioLockTransfer(big, done));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(locks.folioLockOwner(big)?.name).toBe('t');
      locks.folioUnlock(big);
    });
    expect(rt.run().status).toBe('completed');
    expect(thrown(() => locks.folioTrylock(big)).code).toBe('NO_CURRENT_TASK');
  });

  test('options are checked', () => {
    const { rt, mem } = machine();
    expect(thrown(() => new PageLockTable(rt, mem, { pageLockUnfairness: -1 })).code).toBe(
      'INVALID_CONFIG',
    );
    expect(thrown(() => new PageLockTable(rt, mem, { pageLockUnfairness: 1.5 })).code).toBe(
      'INVALID_CONFIG',
    );
    expect(new PageLockTable(rt, mem).pageLockUnfairness).toBe(5);
    expect(new PageLockTable(rt, mem).checker).toBe(null);
  });
});
