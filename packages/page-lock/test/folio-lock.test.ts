import {
  type Folio,
  folioGet,
  folioRefCount,
  folioTestFlag,
  PG_locked,
  PG_waiters,
} from '@mmsim/folio';
import { EINTR, type KernelGen, Spinlock, type Task } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { PAGE_WAIT_TABLE_SIZE } from '../src/index.js';
import { folioWaitTableIndex } from '../src/internal.js';
import { LONG, machine } from './helpers.js';

describe('uncontended lock and unlock', () => {
  test('trylock takes a free lock, fails on a held one, and unlock frees it', () => {
    const { rt, mem, locks, folio } = machine();
    const f = folio();
    const seen: unknown[] = [];
    const t = rt.spawn('t', 0, function* (task): KernelGen {
      seen.push(locks.folioTrylock(f));
      seen.push(folioTestFlag(mem, f, PG_locked), locks.folioLockOwner(f) === task);
      seen.push(locks.folioTrylock(f)); // already held: fails, as the kernel's would
      locks.folioUnlock(f);
      seen.push(folioTestFlag(mem, f, PG_locked), locks.folioLockOwner(f));
      yield* locks.folioLock(f);
      seen.push(locks.folioLockOwner(f) === task);
      locks.folioUnlock(f);
    });
    expect(rt.run().status).toBe('completed');
    expect(t.state).toBe('done');
    expect(seen).toEqual([true, true, true, false, false, null, true]);
    expect(folioTestFlag(mem, f, PG_waiters)).toBe(false);
  });
});

describe('the fast / contended pattern', () => {
  test('folioLockFast takes a free lock without a generator; folioLockContended sleeps for a held one', () => {
    const { rt, locks, folio } = machine();
    const f = folio();
    const log: string[] = [];
    rt.spawn('holder', 0, function* (): KernelGen {
      expect(locks.folioLockFast(f, 'holder_fn')).toBe(true);
      yield* rt.sleepFor(LONG);
      log.push('unlock');
      locks.folioUnlock(f);
    });
    rt.spawn('other', 1, function* (task): KernelGen {
      if (!locks.folioLockFast(f, 'migrate_folio_unmap')) {
        log.push('contended');
        expect(task.state).toBe('runnable');
        yield* locks.folioLockContended(f, 'migrate_folio_unmap');
      }
      log.push(`locked by ${locks.folioLockOwner(f)}`);
      locks.folioUnlock(f);
    });
    expect(rt.run().status).toBe('completed');
    expect(log).toEqual(['contended', 'unlock', 'locked by other-2']);
  });
});

describe('exclusive waiters', () => {
  test('are woken one at a time, in the order they queued (FIFO, tail insertion)', () => {
    const { rt, locks, folio } = machine();
    const f = folio();
    const order: string[] = [];
    const waitingAfterFirstUnlock: number[] = [];
    rt.spawn('holder', 0, function* (): KernelGen {
      yield* locks.folioLock(f);
      yield* rt.sleepFor(10_000);
      locks.folioUnlock(f);
      waitingAfterFirstUnlock.push(locks.folioWaiters(f).length);
    });
    // Queue in the order w3, w4, w2: not the order of their ids.
    const delays: Record<string, number> = { w2: 300, w3: 100, w4: 200 };
    for (const [name, delay] of Object.entries(delays)) {
      rt.spawn(name, 1 + Number(name[1]) - 2, function* (): KernelGen {
        yield* rt.sleepFor(delay);
        yield* locks.folioLock(f, 'waiter');
        order.push(name);
        yield* rt.sleepFor(10);
        locks.folioUnlock(f);
      });
    }
    expect(rt.run().status).toBe('completed');
    expect(order).toEqual(['w3', 'w4', 'w2']);
    // The first unlock woke only w3; w4 and w2 stayed queued.
    expect(waitingAfterFirstUnlock).toEqual([2]);
  });

  /**
   * The stealer (task 1, the lowest id, so the in-order strategy runs it first whenever it
   * can) unlocks and at once trylocks again, before the woken waiter runs. Returns, per
   * unlock, whether the steal worked, whether the waiter was marked for hand-off before the
   * unlock, and who owned the lock right after it.
   */
  function stealer(unfairness: number) {
    const { rt, mem, locks, folio } = machine({ cpus: 2 }, { pageLockUnfairness: unfairness });
    const f = folio();
    const rounds: { stolen: boolean; handoff: boolean; owner: string; bit: boolean }[] = [];
    let waiter: Task | null = null;
    let waiterGot = false;
    rt.spawn('stealer', 0, function* (): KernelGen {
      yield* locks.folioLock(f);
      for (let i = 0; i < 20; i++) {
        yield* rt.sleepFor(LONG); // the waiter runs and queues
        const handoff = locks.folioWaiters(f)[0]?.handoff ?? false;
        locks.folioUnlock(f);
        const stolen = locks.folioTrylock(f);
        rounds.push({
          stolen,
          handoff,
          owner: String(locks.folioLockOwner(f)),
          bit: folioTestFlag(mem, f, PG_locked),
        });
        if (!stolen) {
          expect(waiter?.state).toBe('runnable'); // handed over before it even ran
          return;
        }
      }
      locks.folioUnlock(f);
    });
    waiter = rt.spawn('waiter', 1, function* (): KernelGen {
      yield* locks.folioLock(f);
      waiterGot = true;
      locks.folioUnlock(f);
    });
    expect(rt.run().status).toBe('completed');
    expect(waiterGot).toBe(true);
    return rounds;
  }

  test('after page_lock_unfairness stolen wake-ups (default 5) the unlocker hands the lock over', () => {
    const rounds = stealer(5);
    expect(rounds.map((r) => r.stolen)).toEqual([true, true, true, true, true, false]);
    // Marked for hand-off only on the round after the 5th steal.
    expect(rounds.map((r) => r.handoff)).toEqual([false, false, false, false, false, true]);
    // The bit was set on the waiter's behalf by the unlock itself.
    expect(rounds.at(-1)).toMatchObject({ bit: true, owner: 'waiter-2' });
  });

  test('unfairness 0 hands over on the first unlock; 1 accepts exactly one steal', () => {
    expect(stealer(0).map((r) => [r.stolen, r.handoff])).toEqual([[false, true]]);
    expect(stealer(1).map((r) => [r.stolen, r.handoff])).toEqual([
      [true, false],
      [false, true],
    ]);
    expect(stealer(3).filter((r) => r.stolen)).toHaveLength(3);
  });
});

describe('shared waiters', () => {
  test('folio_wait_locked and the migration-entry wait wake on unlock; refcounts untouched', () => {
    const { rt, mem, locks, folio } = machine();
    const f = folio();
    const ptl = new Spinlock(rt, 'ptl');
    const log: string[] = [];
    const refs: Record<string, number> = {};
    rt.spawn('migrator', 0, function* (): KernelGen {
      yield* locks.folioLock(f);
      yield* rt.sleepFor(LONG);
      refs.whileAsleep = folioRefCount(mem, f);
      expect(locks.folioWaiters(f).map((w) => [w.task.name, w.exclusive])).toEqual([
        ['reader', false],
        ['fault', false],
      ]);
      log.push('unlock');
      locks.folioUnlock(f);
    });
    rt.spawn('reader', 1, function* (): KernelGen {
      folioGet(mem, f); // the reader holds its own reference, as callers of folio_wait_locked do
      refs.before = folioRefCount(mem, f);
      yield* locks.folioWaitLocked(f);
      refs.readerAfter = folioRefCount(mem, f);
      log.push('reader woke');
    });
    rt.spawn('fault', 2, function* (): KernelGen {
      ptl.trylock(); // the fault path finds the migration entry under the PTL
      yield* locks.migrationEntryWaitOnLocked(f, ptl);
      expect(ptl.owner).toBe(null); // dropped after queueing
      log.push('fault woke');
    });
    expect(rt.run().status).toBe('completed');
    expect(log).toEqual(['unlock', 'reader woke', 'fault woke']);
    expect(refs).toEqual({ before: 2, whileAsleep: 2, readerAfter: 2 });
    expect(folioRefCount(mem, f)).toBe(2);
    expect(folioTestFlag(mem, f, PG_waiters)).toBe(false);
  });

  test('a wake-up walk stops at the first exclusive waiter; a shared one behind it waits on', () => {
    const { rt, locks, folio } = machine();
    const f = folio();
    const log: string[] = [];
    rt.spawn('holder', 0, function* (): KernelGen {
      yield* locks.folioLock(f);
      yield* rt.sleepFor(LONG);
      locks.folioUnlock(f);
      log.push(`after unlock: ${locks.folioWaiters(f).map((w) => w.task.name)}`);
    });
    const body = (delay: number, exclusive: boolean, name: string) =>
      function* (): KernelGen {
        yield* rt.sleepFor(delay);
        if (exclusive) {
          yield* locks.folioLock(f);
          log.push(`${name} locked`);
          yield* rt.sleepFor(100);
          locks.folioUnlock(f);
        } else {
          yield* locks.folioWaitLocked(f);
          log.push(`${name} woke`);
        }
      };
    rt.spawn('r1', 1, body(10, false, 'r1'));
    rt.spawn('x', 2, body(20, true, 'x'));
    rt.spawn('r2', 3, body(30, false, 'r2'));
    expect(rt.run().status).toBe('completed');
    expect(log).toEqual(['after unlock: r2', 'r1 woke', 'x locked', 'r2 woke']);
  });

  test('folio_put_wait_locked drops the reference before it sleeps', () => {
    const { rt, mem, locks, folio } = machine();
    const f = folio();
    const refs: number[] = [];
    rt.spawn('holder', 0, function* (): KernelGen {
      yield* locks.folioLock(f);
      yield* rt.sleepFor(LONG);
      refs.push(folioRefCount(mem, f));
      locks.folioUnlock(f);
    });
    rt.spawn('dropper', 1, function* (): KernelGen {
      folioGet(mem, f);
      refs.push(folioRefCount(mem, f));
      refs.push(yield* locks.folioPutWaitLocked(f, false));
      refs.push(folioRefCount(mem, f));
    });
    expect(rt.run().status).toBe('completed');
    expect(refs).toEqual([2, 1, 0, 1]);
  });
});

describe('killable lock', () => {
  test('returns -EINTR on a fatal signal, leaves the queue clean and the lock with its owner', () => {
    const { rt, mem, locks, folio } = machine();
    const f = folio();
    const out: Record<string, unknown> = {};
    let victim: Task | null = null;
    const holder = rt.spawn('holder', 0, function* (): KernelGen {
      yield* locks.folioLock(f);
      yield* rt.sleepFor(LONG);
      out.queued = locks.folioWaitQueue(f).length;
      out.waitersBitAfterSignal = folioTestFlag(mem, f, PG_waiters);
      out.owner = locks.folioLockOwner(f)?.name;
      locks.folioUnlock(f);
      // The next unlock finds no waiter of f and clears the spurious PG_waiters.
      out.waitersBitAfterUnlock = folioTestFlag(mem, f, PG_waiters);
    });
    victim = rt.spawn('victim', 1, function* (): KernelGen {
      out.ret = yield* locks.folioLockKillable(f);
      out.held = locks.folioLockOwner(f) === victim;
    });
    rt.spawn('killer', 2, function* (): KernelGen {
      yield* rt.sleepFor(LONG / 2);
      expect(victim?.state).toBe('sleeping');
      rt.sendFatalSignal(victim as Task);
    });
    expect(rt.run().status).toBe('completed');
    expect(holder.state).toBe('done');
    expect(out).toEqual({
      ret: -EINTR,
      held: false,
      queued: 0,
      waitersBitAfterSignal: true,
      owner: 'holder',
      waitersBitAfterUnlock: false,
    });
  });

  test('a wake-up that came before the waiter ran wins over the signal, as in the kernel', () => {
    const { rt, locks, folio } = machine();
    const f = folio();
    let ret: number | null = null;
    const victim = rt.spawn('victim', 1, function* (): KernelGen {
      yield* rt.sleepFor(10);
      ret = yield* locks.folioLockKillable(f);
      locks.folioUnlock(f);
    });
    rt.spawn('holder', 0, function* (): KernelGen {
      yield* locks.folioLock(f);
      yield* rt.sleepFor(LONG);
      // Both in one atomic step: the signal wakes the victim, then the unlock marks its entry
      // WOKEN before it runs. folio_wait_bit_common looks at WOKEN before the signal.
      rt.sendFatalSignal(victim);
      locks.folioUnlock(f);
    });
    expect(rt.run().status).toBe('completed');
    expect(ret).toBe(0);
  });

  test('a signal already pending: -EINTR without sleeping when contended, 0 when the lock is free', () => {
    const { rt, locks, folio } = machine();
    const f = folio();
    const g = folio();
    const out: number[] = [];
    rt.spawn('holder', 0, function* (): KernelGen {
      yield* locks.folioLock(f);
      yield* rt.sleepFor(LONG);
      locks.folioUnlock(f);
    });
    rt.spawn('doomed', 1, function* (task): KernelGen {
      rt.sendFatalSignal(task);
      out.push(yield* locks.folioLockKillable(f));
      out.push(yield* locks.folioLockKillable(g));
      locks.folioUnlock(g);
      out.push(yield* locks.folioWaitLockedKillable(f));
    });
    expect(rt.run().status).toBe('completed');
    expect(out).toEqual([-EINTR, 0, -EINTR]);
    expect(locks.folioWaitQueue(f).length).toBe(0);
  });
});

describe('PG_waiters and the hashed queues', () => {
  /** Two distinct folios that hash to the same wait queue. */
  function collidingPair(next: () => Folio): [Folio, Folio] {
    const byBucket = new Map<number, Folio>();
    for (let i = 0; i <= PAGE_WAIT_TABLE_SIZE; i++) {
      const f = next();
      const other = byBucket.get(folioWaitTableIndex(f));
      if (other !== undefined) return [other, f];
      byBucket.set(folioWaitTableIndex(f), f);
    }
    throw new Error('pigeonhole principle broken');
  }

  test('PG_waiters stays set while another waiter of the folio is queued, and clears with the last', () => {
    const { rt, mem, locks, folio } = machine();
    const f = folio();
    const bits: boolean[] = [];
    rt.spawn('holder', 0, function* (): KernelGen {
      yield* locks.folioLock(f);
      yield* rt.sleepFor(LONG);
      locks.folioUnlock(f);
      bits.push(folioTestFlag(mem, f, PG_waiters)); // w2 still queued
    });
    for (const [name, cpu] of [
      ['w1', 1],
      ['w2', 2],
    ] as const) {
      rt.spawn(name, cpu, function* (): KernelGen {
        yield* rt.sleepFor(cpu);
        yield* locks.folioLock(f);
        yield* rt.sleepFor(100);
        locks.folioUnlock(f);
        bits.push(folioTestFlag(mem, f, PG_waiters));
      });
    }
    expect(rt.run().status).toBe('completed');
    // holder's unlock: w2 queued -> set; w1's unlock woke w2, the last -> clear; w2: clear.
    expect(bits).toEqual([true, false, false]);
  });

  test('folios that share a queue do not wake each other', () => {
    const { rt, mem, locks, folio } = machine();
    const [f, g] = collidingPair(folio);
    expect(locks.folioWaitQueue(f)).toBe(locks.folioWaitQueue(g));
    const log: string[] = [];
    rt.spawn('holder', 0, function* (): KernelGen {
      yield* locks.folioLock(f);
      yield* locks.folioLock(g);
      yield* rt.sleepFor(LONG);
      locks.folioUnlock(g);
      log.push(`g unlocked; waiting on f: ${locks.folioWaiters(f).map((w) => w.task.name)}`);
      log.push(`f waiters bit ${folioTestFlag(mem, f, PG_waiters)}`);
      yield* rt.sleepFor(LONG);
      locks.folioUnlock(f);
    });
    rt.spawn('wf', 1, function* (): KernelGen {
      yield* locks.folioLock(f);
      log.push('wf locked');
      locks.folioUnlock(f);
    });
    rt.spawn('wg', 2, function* (): KernelGen {
      yield* locks.folioLock(g);
      log.push('wg locked');
      locks.folioUnlock(g);
    });
    expect(rt.run().status).toBe('completed');
    expect(log).toEqual([
      'g unlocked; waiting on f: wf',
      'f waiters bit true',
      'wg locked',
      'wf locked',
    ]);
  });

  test('as in the kernel, PG_waiters may stay set spuriously when another folio shares the queue', () => {
    const { rt, mem, locks, folio } = machine();
    const [f, g] = collidingPair(folio);
    const bits: boolean[] = [];
    rt.spawn('holder', 0, function* (): KernelGen {
      yield* locks.folioLock(f);
      yield* locks.folioLock(g);
      yield* rt.sleepFor(LONG);
      locks.folioUnlock(f); // wakes wf, the last waiter of f, but wg is still on the queue
      bits.push(folioTestFlag(mem, f, PG_waiters));
      yield* rt.sleepFor(LONG); // wf takes and drops f: its unlock finds no waiter of f
      bits.push(folioTestFlag(mem, f, PG_waiters));
      locks.folioUnlock(g);
    });
    rt.spawn('wf', 1, function* (): KernelGen {
      yield* locks.folioLock(f);
      locks.folioUnlock(f);
    });
    rt.spawn('wg', 2, function* (): KernelGen {
      yield* locks.folioLock(g);
      locks.folioUnlock(g);
    });
    expect(rt.run().status).toBe('completed');
    expect(bits).toEqual([true, false]);
    expect(folioTestFlag(mem, g, PG_waiters)).toBe(false);
  });
});

describe('lock hand-over to an I/O completion task', () => {
  test('folioLockTransfer lets another task unlock; the old owner no longer may', () => {
    const { rt, mem, locks, folio } = machine();
    const f = folio();
    const log: string[] = [];
    const io = rt.spawn('io', 1, function* (): KernelGen {
      yield* rt.sleepFor(LONG); // the read completes
      locks.folioUnlock(f);
      log.push('io unlocked');
    });
    rt.spawn('reader', 0, function* (): KernelGen {
      yield* locks.folioLock(f, 'page_cache_ra_unbounded');
      locks.folioLockTransfer(f, io);
      expect(locks.folioLockOwner(f)).toBe(io);
      expect(() => locks.folioUnlock(f)).toThrow(
        /reader-2 unlocks folio 0x[0-9a-f]+, which is locked by io-1/,
      );
      yield* locks.folioLock(f, 'filemap_read'); // waits for the I/O
      log.push('reader got it');
      locks.folioUnlock(f);
    });
    expect(rt.run().status).toBe('completed');
    expect(log).toEqual(['io unlocked', 'reader got it']);
    expect(folioTestFlag(mem, f, PG_locked)).toBe(false);
  });
});
