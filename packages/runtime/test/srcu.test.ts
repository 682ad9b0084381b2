import { describe, expect, test } from 'vitest';
import { Completion, type KernelGen, Runtime, Srcu } from '../src/index.js';

describe('srcu', () => {
  test('synchronize_srcu waits for a reader that entered before it', () => {
    const rt = new Runtime({ cpus: 2, strategy: 'in-order' });
    const srcu = new Srcu(rt, 'test_srcu');
    const inside = new Completion(rt, 'inside');
    const log: string[] = [];
    rt.spawn('reader', 0, function* (): KernelGen {
      const idx = srcu.readLock();
      yield* inside.wait(); // stays inside until the updater has started
      log.push('reader out');
      srcu.readUnlock(idx);
    });
    rt.spawn('updater', 1, function* (): KernelGen {
      log.push('sync start');
      inside.complete();
      yield* srcu.synchronize();
      log.push('sync done');
    });
    expect(rt.run().status).toBe('completed');
    expect(log).toEqual(['sync start', 'reader out', 'sync done']);
  });

  test('synchronize_srcu does not wait for a reader that entered after it started', () => {
    const rt = new Runtime({ cpus: 3, strategy: 'in-order' });
    const srcu = new Srcu(rt, 'test_srcu');
    const a = new Completion(rt, 'a');
    const b = new Completion(rt, 'b');
    const c = new Completion(rt, 'c');
    const log: string[] = [];
    rt.spawn('early', 0, function* (): KernelGen {
      const idx = srcu.readLock();
      yield* a.wait();
      log.push('early out');
      srcu.readUnlock(idx);
    });
    rt.spawn('updater', 1, function* (): KernelGen {
      a.complete();
      b.complete();
      yield* srcu.synchronize();
      log.push('sync done');
      c.complete();
    });
    rt.spawn('late', 2, function* (): KernelGen {
      yield* b.wait(); // the updater has flipped the index by now
      const idx = srcu.readLock();
      yield* c.wait(); // inside until the grace period is over: it must not wait for us
      log.push('late out');
      srcu.readUnlock(idx);
    });
    expect(rt.run().status).toBe('completed');
    expect(log).toEqual(['early out', 'sync done', 'late out']);
  });

  test('a reader calling synchronize_srcu on its own srcu deadlocks and names itself', () => {
    const rt = new Runtime();
    const srcu = new Srcu(rt, 'self_srcu');
    rt.spawn('selfish', 0, function* (): KernelGen {
      srcu.readLock();
      yield* srcu.synchronize();
    });
    const result = rt.run();
    expect(result.status).toBe('deadlock');
    expect(result.deadlock!.cycle.map((e) => e.task.name)).toEqual(['selfish']);
    expect(result.deadlock!.cycle[0]!.waitsIn).toBe('synchronize_srcu');
  });

  test('an unmatched srcu_read_unlock is a typed error', () => {
    const rt = new Runtime();
    const srcu = new Srcu(rt, 's');
    let caught: unknown = null;
    rt.spawn('t', 0, function* (): KernelGen {
      try {
        srcu.readUnlock(0);
      } catch (e) {
        caught = e;
      }
      yield;
    });
    rt.run();
    expect((caught as { code?: string }).code).toBe('CONTRACT_VIOLATION');
  });
});
