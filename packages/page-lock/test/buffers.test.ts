import {
  folioGetPrivate,
  folioRefCount,
  folioSetFlag,
  folioTestFlag,
  PG_private,
  PG_uptodate,
} from '@mmsim/folio';
import type { KernelGen, Task } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { BH_Lock, BH_Uptodate, type BufferHead } from '../src/index.js';
import { asBh } from '../src/internal.js';
import { hex, LONG, machine, thrown } from './helpers.js';

function ring(head: BufferHead): BufferHead[] {
  const out: BufferHead[] = [];
  let bh = head;
  do {
    out.push(bh);
    bh = bh.thisPage;
  } while (bh !== head);
  return out;
}

describe('buffer heads', () => {
  test('createBuffers attaches a ring of buffers as the folio private data', () => {
    const { mem, locks, folio } = machine();
    const f = folio();
    folioSetFlag(mem, f, PG_uptodate);
    const head = locks.createBuffers(f, 4);
    expect(locks.folioBuffers(f)).toBe(head);
    expect(folioGetPrivate(mem, f)).toBe(head);
    expect(folioTestFlag(mem, f, PG_private)).toBe(true);
    expect(folioRefCount(mem, f)).toBe(2); // the private data's reference
    const bhs = ring(head);
    expect(bhs.map((bh) => [bh.folio, bh.index, bh.size, bh.count])).toEqual([
      [f, 0, 1024, 0],
      [f, 1, 1024, 0],
      [f, 2, 1024, 0],
      [f, 3, 1024, 0],
    ]);
    expect(bhs.every((bh) => locks.bufferUptodate(bh))).toBe(true);
    locks.clearBufferUptodate(head);
    expect(locks.bufferUptodate(head)).toBe(false);
    expect(head.state & (1 << BH_Uptodate)).toBe(0);
    locks.setBufferUptodate(head);
    expect(locks.bufferUptodate(head)).toBe(true);

    const g = folio();
    expect(locks.folioBuffers(g)).toBe(null);
    expect(thrown(() => locks.createBuffers(g, 3)).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => locks.createBuffers(f, 1)).message).toMatch(/already has private data/);
    expect(locks.folioBuffers(g)).toBe(null);
  });

  test('get_bh / put_bh count references; an extra put throws', () => {
    const { locks, folio } = machine();
    const bh = locks.createBuffers(folio(), 1);
    locks.getBh(bh);
    locks.getBh(bh);
    locks.putBh(bh);
    expect(bh.count).toBe(1);
    locks.putBh(bh);
    const e = thrown(() => locks.putBh(bh));
    expect(e.code).toBe('COUNT_UNDERFLOW');
    expect(bh.count).toBe(0);
  });

  test('set_bh_page moves a buffer to the new folio, as buffer migration does', () => {
    const { locks, folio } = machine();
    const src = folio();
    const dst = folio();
    const head = locks.createBuffers(src, 2);
    for (const bh of ring(head)) locks.setBhPage(bh, dst);
    expect(ring(head).map((bh) => bh.folio)).toEqual([dst, dst]);
  });
});

describe('BH_Lock', () => {
  test('trylock / lock / unlock, and a sleeping waiter woken by the unlock', () => {
    const { rt, locks, folio } = machine();
    const f = folio();
    const bh = locks.createBuffers(f, 2);
    const log: string[] = [];
    let waiter: Task | null = null;
    rt.spawn('holder', 0, function* (task): KernelGen {
      expect(locks.trylockBuffer(bh)).toBe(true);
      expect(locks.bufferLocked(bh)).toBe(true);
      expect(bh.state & (1 << BH_Lock)).not.toBe(0);
      expect(locks.bufferLockOwner(bh)).toBe(task);
      expect(locks.trylockBuffer(bh)).toBe(false);
      yield* rt.sleepFor(LONG);
      expect(locks.bufferWaitQueue(bh).entries.map((e) => e.task)).toEqual([waiter]);
      log.push('unlock');
      locks.unlockBuffer(bh);
    });
    waiter = rt.spawn('waiter', 1, function* (task): KernelGen {
      yield* locks.lockBuffer(bh, 'buffer_migrate_lock_buffers');
      log.push('locked');
      expect(locks.bufferLockOwner(bh)).toBe(task);
      locks.unlockBuffer(bh);
    });
    expect(rt.run().status).toBe('completed');
    expect(log).toEqual(['unlock', 'locked']);
    expect(locks.bufferLocked(bh)).toBe(false);
    expect(locks.bufferWaitQueue(bh).length).toBe(0);
  });

  test('no hand-off: a woken waiter that loses the race queues again at the tail', () => {
    const { rt, locks, folio } = machine();
    const bh = locks.createBuffers(folio(), 1);
    const order: string[] = [];
    rt.spawn('stealer', 0, function* (): KernelGen {
      yield* locks.lockBuffer(bh);
      yield* rt.sleepFor(LONG);
      locks.unlockBuffer(bh); // wakes w1 only
      expect(locks.trylockBuffer(bh)).toBe(true); // and steals before w1 runs
      yield* rt.sleepFor(LONG); // w1 fails, requeues behind w2
      locks.unlockBuffer(bh);
    });
    for (const [name, cpu] of [
      ['w1', 1],
      ['w2', 2],
    ] as const) {
      rt.spawn(name, cpu, function* (): KernelGen {
        yield* rt.sleepFor(cpu);
        yield* locks.lockBuffer(bh);
        order.push(name);
        yield* rt.sleepFor(10);
        locks.unlockBuffer(bh);
      });
    }
    expect(rt.run().status).toBe('completed');
    expect(order).toEqual(['w2', 'w1']);
  });

  test('contract violations: unlock by a non-owner, unlock of an unlocked buffer, locking twice', () => {
    const { rt, locks, folio } = machine();
    const f = folio();
    const bh = locks.createBuffers(f, 4).thisPage; // buffer 1
    const messages: string[] = [];
    rt.spawn('owner', 0, function* (): KernelGen {
      yield* locks.lockBuffer(bh);
      const e = thrown(() => {
        const gen = locks.lockBuffer(bh, 'ext4_writepage');
        gen.next();
      });
      expect(e.code).toBe('CONTRACT_VIOLATION');
      messages.push(e.message);
      expect(locks.bufferWaitQueue(bh).length).toBe(0);
      yield* rt.sleepFor(LONG);
      locks.unlockBuffer(bh);
    });
    rt.spawn('other', 1, function* (task): KernelGen {
      yield* rt.sleepFor(10);
      const e = thrown(() => locks.unlockBuffer(bh));
      expect(e.code).toBe('CONTRACT_VIOLATION');
      messages.push(e.message);
      expect(locks.bufferLocked(bh)).toBe(true);
      expect(locks.bufferLockOwner(bh)?.name).toBe('owner');
      expect(thrown(() => locks.bufferLockTransfer(bh, task)).code).toBe('CONTRACT_VIOLATION');
      yield* rt.sleepFor(2 * LONG);
      messages.push(thrown(() => locks.unlockBuffer(bh)).message);
    });
    expect(rt.run().status).toBe('completed');
    expect(messages).toEqual([
      `owner-1 sleeps in ext4_writepage on buffer 1 of folio ${hex(f)}, whose lock it already holds: the wait could never end (a self-deadlock)`,
      `other-2 unlocks buffer 1 of folio ${hex(f)}, which is locked by owner-1: only the owner may; an I/O submitter hands the lock to the completing task with bufferLockTransfer`,
      `other-2 unlocks buffer 1 of folio ${hex(f)}, which is not locked`,
    ]);
  });

  test('an I/O completion task can be handed the buffer lock, and the deadlock report names it', () => {
    const { rt, locks, folio } = machine();
    const bh = locks.createBuffers(folio(), 1);
    const io = rt.spawn('io', 1, function* (): KernelGen {
      yield* rt.sleepFor(LONG);
      // Never unlocks: the waiter below must see io as the holder.
    });
    rt.spawn('submit', 0, function* (): KernelGen {
      yield* locks.lockBuffer(bh, 'submit_bh');
      locks.bufferLockTransfer(bh, io);
      yield* locks.lockBuffer(bh, '__buffer_migrate_folio');
    });
    const result = rt.run();
    expect(result.status).toBe('deadlock');
    expect(
      result.deadlock?.blocked.map((e) => [
        e.task.name,
        e.waitsIn,
        e.resource,
        e.heldBy.map((t) => t.name),
      ]),
    ).toEqual([
      ['submit', '__buffer_migrate_folio', `buffer 0 of folio ${hex(bh.folio)} BH_Lock`, ['io']],
    ]);
  });
});

describe('a buffer lock resource', () => {
  // On Node 20 an object literal's getter goes into a map of the old generation and keeps
  // its closure's context (the runtime: the whole machine) alive through every
  // young-generation collection; the resource is a class instance instead.
  test('names the buffer through a prototype getter, not one of its own', () => {
    const { rt, locks, folio } = machine();
    const f = folio();
    const head = asBh(locks.createBuffers(f, 2).thisPage);
    const resource = head.lockResource(rt);
    expect(Object.getOwnPropertyDescriptor(resource, 'name')).toBeUndefined();
    expect(resource.name).toBe(`buffer 1 of folio ${hex(f)} BH_Lock`);
    expect(head.lockResource(rt)).toBe(resource);
    expect(resource.holders()).toEqual([]);
  });
});
