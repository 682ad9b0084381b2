import { folioRefCount, folioTestFlag, PG_dirty, PG_locked } from '@mmsim/folio';
import {
  createKernel,
  filemapLockFolio,
  folioUnlockPut,
  pageCacheLookup,
  populateFile,
} from '@mmsim/kernel';
import { BH_Uptodate } from '@mmsim/page-lock';
import { Completion, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  builtinScenario,
  builtinScenarios,
  LoopDevice,
  SCENARIO_NAMES,
  WorkQueue,
} from '../src/index.js';

describe('actors and helpers', () => {
  it('WorkQueue: the consumer sleeps until work arrives and gets null once every producer closed it', () => {
    const k = createKernel({ nodes: [{ pages: 1024 }], strategy: 'random', seed: 9 });
    const q = new WorkQueue<number>(k.rt, 'q', 2);
    const got: Array<number | null> = [];
    k.rt.spawn('consumer', 0, function* (): KernelGen {
      for (;;) {
        const item = yield* q.next('worker_thread');
        got.push(item);
        if (item === null) return;
      }
    });
    for (const base of [10, 20]) {
      k.rt.spawn(`producer${base}`, 1, function* (): KernelGen {
        for (let i = 0; i < 3; i++) {
          q.submit(base + i);
          yield;
        }
        q.close();
      });
    }
    expect(k.run().status).toBe('completed');
    expect(got[got.length - 1]).toBeNull();
    expect([...got.slice(0, -1)].sort()).toEqual([10, 11, 12, 20, 21, 22]);
  });

  it('page cache: lookups with a lock recheck the slot; a large folio is found from any of its indices', () => {
    const k = createKernel({ nodes: [{ pages: 1024 }] });
    const file = k.createFile('f', { content: [1, 2, 3, 4, 5] });
    k.rt.spawn('t', 0, function* (): KernelGen {
      const [large] = yield* populateFile(k, file, [0], { order: 2 });
      expect(pageCacheLookup(k.mem, file, 3)).toBe(large);
      expect(pageCacheLookup(k.mem, file, 4)).toBeUndefined();
      expect(folioRefCount(k.mem, large!)).toBe(4); // one per page, in the cache
      const f = yield* filemapLockFolio(k, file, 2, 'test');
      expect(f).toBe(large);
      expect(folioTestFlag(k.mem, f, PG_locked)).toBe(true);
      yield* folioUnlockPut(k, f);
      const created = yield* filemapLockFolio(k, file, 7, 'test', {});
      expect(created).toBeGreaterThan(0);
      yield* folioUnlockPut(k, created);
    });
    expect(k.run().status).toBe('completed');
    expect(k.vm.check({ quiescent: true })).toEqual([]);
  });

  it('loop device: a buffer write completes only after the worker locked and wrote the backing folio', () => {
    const k = createKernel({ nodes: [{ pages: 1024 }], cpusPerNode: 3, strategy: 'in-order' });
    const backing = k.createFile('img', { content: [7] });
    const dev = k.createFile('loop0', { content: [8] });
    const loop = new LoopDevice(k, { name: 'loop0', cpu: 1, backing, dev });
    const ready = new Completion(k.rt, 'ready');
    const log: string[] = [];
    k.rt.spawn('setup', 0, function* (): KernelGen {
      yield* populateFile(k, backing, [0]);
      const [d] = yield* populateFile(k, dev, [0], { buffersPerPage: 1 });
      const bh = k.locks.folioBuffers(d!)!;
      expect(k.locks.bufferUptodate(bh)).toBe(true);
      // Hold the backing folio: the write cannot complete meanwhile.
      const b = yield* filemapLockFolio(k, backing, 0, 'holder');
      ready.complete();
      k.locks.getBh(bh);
      yield* k.locks.lockBuffer(bh, 'submit_bh');
      loop.submitBuffer(bh, 0);
      for (let i = 0; i < 5; i++) yield;
      log.push(`before unlock: bh locked ${k.locks.bufferLocked(bh)}`);
      yield* folioUnlockPut(k, b);
      yield* k.locks.lockBuffer(bh, 'wait_on_buffer'); // waits for the completion
      log.push(
        `after: bh count ${bh.count}, state uptodate ${(bh.state & (1 << BH_Uptodate)) !== 0}`,
      );
      k.locks.unlockBuffer(bh);
      loop.close();
    });
    k.spawn(loop.actor());
    expect(k.run().status).toBe('completed');
    expect(log).toEqual([
      'before unlock: bh locked true',
      'after: bh count 0, state uptodate true',
    ]);
    expect(loop.served).toBe(1);
    const folio = pageCacheLookup(k.mem, backing, 0)!;
    expect(folioTestFlag(k.mem, folio, PG_dirty)).toBe(true);
    expect(k.shadow.verifyAll()).toEqual([]);
  });

  it('the built-in scenarios, by name', () => {
    expect(builtinScenarios().map((s) => s.name)).toEqual([...SCENARIO_NAMES]);
    for (const s of builtinScenarios()) {
      expect(s.description.length).toBeGreaterThan(50);
      expect(s.title.length).toBeGreaterThan(10);
    }
    expect(builtinScenario('loop-bh-deadlock').history?.deadlocksIn).toContain('v6.3-rc1');
    expect(() => builtinScenario('nope')).toThrow(
      /no built-in scenario "nope"; known: pmbench-migrate/,
    );
  });
});
