import { folioFlags, folioTestFlag, PG_writeback } from '@mmsim/folio';
import { formatDeadlock, type KernelGen } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { hex, LONG, machine, thrown } from './helpers.js';

describe('PG_writeback', () => {
  test('folio_wait_writeback sleeps until another task ends the writeback', () => {
    const { rt, mem, locks, folio } = machine();
    const f = folio();
    const log: string[] = [];
    const io = rt.spawn('io', 1, function* (): KernelGen {
      yield* rt.sleepFor(LONG);
      log.push('end');
      locks.folioEndWriteback(f);
    });
    rt.spawn('writer', 0, function* (task): KernelGen {
      yield* locks.folioLock(f);
      locks.folioStartWriteback(f, 'ext4_bio_write_folio');
      expect(locks.folioWritebackOwner(f)).toBe(task);
      locks.folioWritebackTransfer(f, io);
      expect(locks.folioWritebackOwner(f)).toBe(io);
      locks.folioUnlock(f);
    });
    rt.spawn('waiter', 2, function* (task): KernelGen {
      yield* rt.sleepFor(10);
      expect(folioTestFlag(mem, f, PG_writeback)).toBe(true);
      yield* locks.folioWaitWriteback(f);
      log.push(`woke at ${task.cpu.clock >= LONG}`);
    });
    expect(rt.run().status).toBe('completed');
    expect(log).toEqual(['end', 'woke at true']);
    expect(folioTestFlag(mem, f, PG_writeback)).toBe(false);
    expect(locks.folioWritebackOwner(f)).toBe(null);
  });

  test('waiting on a folio without writeback returns at once', () => {
    const { rt, locks, folio } = machine();
    const f = folio();
    let done = false;
    rt.spawn('t', 0, function* (): KernelGen {
      yield* locks.folioWaitWriteback(f);
      done = true;
    });
    expect(rt.run().steps).toBe(1);
    expect(done).toBe(true);
  });

  test('starting writeback needs the folio lock held by the caller, and only once', () => {
    const { rt, mem, locks, folio } = machine();
    const f = folio();
    const errors: string[] = [];
    rt.spawn('owner', 0, function* (): KernelGen {
      yield* locks.folioLock(f);
      yield* rt.sleepFor(LONG);
      locks.folioStartWriteback(f);
      const before = folioFlags(mem, f);
      const again = thrown(() => locks.folioStartWriteback(f));
      expect(again.code).toBe('CONTRACT_VIOLATION');
      errors.push(again.message);
      expect(folioFlags(mem, f)).toBe(before);
      locks.folioUnlock(f);
      locks.folioEndWriteback(f);
    });
    rt.spawn('intruder', 1, function* (): KernelGen {
      const before = folioFlags(mem, f);
      const e = thrown(() => locks.folioStartWriteback(f));
      expect(e.code).toBe('CONTRACT_VIOLATION');
      errors.push(e.message);
      expect(folioFlags(mem, f)).toBe(before);
      expect(locks.folioWritebackOwner(f)).toBe(null);
    });
    expect(rt.run().status).toBe('completed');
    expect(errors).toEqual([
      `intruder-2 starts writeback of folio ${hex(f)} without holding its lock (it is locked by owner-1): folio_start_writeback needs the folio locked by the caller`,
      `owner-1 starts writeback of folio ${hex(f)}, which is already under writeback (owned by owner-1): wait for it to end first`,
    ]);
  });

  test('ending writeback that is not in flight throws; a non-owner cannot hand it over', () => {
    const { rt, locks, folio } = machine();
    const f = folio();
    expect(thrown(() => locks.folioEndWriteback(f)).message).toBe(
      `code outside any task ends writeback of folio ${hex(f)}, which is not under writeback`,
    );
    rt.spawn('a', 0, function* (task): KernelGen {
      yield* locks.folioLock(f);
      locks.folioStartWriteback(f);
      locks.folioUnlock(f);
      yield* rt.sleepFor(LONG);
      expect(locks.folioWritebackOwner(f)).toBe(task);
      locks.folioEndWriteback(f);
    });
    rt.spawn('b', 1, function* (task): KernelGen {
      yield* rt.sleepFor(10);
      const e = thrown(() => locks.folioWritebackTransfer(f, task));
      expect(e.message).toBe(
        `b-2 hands to b-2 the writeback of folio ${hex(f)}, but it is owned by a-1`,
      );
    });
    expect(rt.run().status).toBe('completed');
  });

  test("the deadlock report names the writeback's owner as its holder", () => {
    const { rt, locks, folio } = machine();
    const a = folio();
    const b = folio();
    // The loop worker owns B's writeback and needs A's lock to finish it; migration holds
    // A and waits for B's writeback: the deadlock of the 6.3-rc1 batch (reference 4.3).
    rt.spawn('migrate', 0, function* (): KernelGen {
      yield* rt.sleepFor(10);
      yield* locks.folioLock(a, 'migrate_folio_unmap');
      yield* rt.sleepFor(LONG);
      yield* locks.folioWaitWriteback(b, 'migrate_folio_unmap');
      locks.folioUnlock(a);
    });
    rt.spawn('loop', 1, function* (): KernelGen {
      yield* locks.folioLock(b);
      locks.folioStartWriteback(b);
      locks.folioUnlock(b);
      yield* rt.sleepFor(100);
      yield* locks.folioLock(a, 'shmem_write_begin');
      locks.folioUnlock(a);
      locks.folioEndWriteback(b);
    });
    const result = rt.run();
    expect(result.status).toBe('deadlock');
    const cycle = result.deadlock?.cycle ?? [];
    expect(
      cycle.map((e) => [e.task.name, e.waitsIn, e.resource, e.heldBy.map((t) => t.name)]),
    ).toEqual([
      ['migrate', 'migrate_folio_unmap', `folio ${hex(b)} PG_writeback`, ['loop']],
      ['loop', 'shmem_write_begin', `folio ${hex(a)} PG_locked`, ['migrate']],
    ]);
    expect(formatDeadlock(result.deadlock!)).toContain(
      `waits in migrate_folio_unmap for folio ${hex(b)} PG_writeback, held by loop-2`,
    );
  });
});
