import { type Folio, folioOnList, folioRefCount, folioTestFlag, PG_lru } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { afterEach, describe, expect, test } from 'vitest';
import {
  ISOLATE_LRU_DONE,
  ISOLATE_LRU_FAILED,
  ISOLATE_LRU_GENERAL,
  ISOLATE_LRU_SPIN,
  ISOLATE_LRU_YIELD,
  LRU_INACTIVE_ANON,
} from '../src/index.js';
import { lruUncontended } from '../src/internal.js';
import {
  anonFolio,
  type LruMachine as Machine,
  createLruMachine as machine,
  runScript,
} from '../src/testing/index.js';

function* onLru(m: Machine, folio: Folio): KernelGen {
  yield* m.lru.folioAddLru(folio);
  yield* m.lru.lruAddDrain();
}

describe('folioIsolateLruStart / folioIsolateLruFinish (folio_isolate_lru as plain calls)', () => {
  afterEach(() => {
    lruUncontended.enabled = true;
  });

  test('runs to the end alone: DONE for a folio on its list, FAILED (nothing changed) for one on none', () => {
    const m = machine();
    const { lru, mem } = m;
    const f = anonFolio(mem, 0, 0);
    const states: number[] = [];
    runScript(m, function* () {
      yield* onLru(m, f);
      states.push(lru.folioIsolateLruStart(f));
      expect(folioTestFlag(mem, f, PG_lru)).toBe(false);
      expect(folioOnList(mem, f)).toBeNull();
      expect(folioRefCount(mem, f)).toBe(2);
      states.push(lru.folioIsolateLruStart(f));
      expect(folioRefCount(mem, f)).toBe(2);
    });
    expect(states).toEqual([ISOLATE_LRU_DONE, ISOLATE_LRU_FAILED]);
  });

  test('stops at a held lru_lock with PG_lru won, and Finish unlinks the folio once the holder lets go', () => {
    for (let seed = 1; seed <= 5; seed++) {
      const m = machine({ strategy: 'random', seed });
      const { lru, mem, rt } = m;
      const f = anonFolio(mem, 0, 0);
      let held = false;
      let started = false;
      let state = -2;
      let finished: boolean | null = null;
      rt.spawn('holder', 1, function* (): KernelGen {
        yield* onLru(m, f);
        const lock = lru.lruLock(0);
        yield* lock.lock();
        held = true;
        while (!started) yield;
        lock.unlock();
      });
      rt.spawn('isolator', 0, function* (): KernelGen {
        while (!held) yield;
        started = true;
        state = lru.folioIsolateLruStart(f);
        expect(folioTestFlag(mem, f, PG_lru)).toBe(false);
        expect(lru.view.listPages(0, LRU_INACTIVE_ANON)).toBe(1); // still linked
        if (state !== ISOLATE_LRU_DONE && state !== ISOLATE_LRU_FAILED) {
          finished = yield* lru.folioIsolateLruFinish(f, state);
        }
      });
      expect(rt.run().status).toBe('completed');
      expect([ISOLATE_LRU_SPIN, ISOLATE_LRU_YIELD], `seed ${seed}`).toContain(state);
      expect(finished).toBe(true);
      expect(folioOnList(mem, f)).toBeNull();
      expect(lru.view.listPages(0, LRU_INACTIVE_ANON)).toBe(0);
    }
  });

  test('does nothing (GENERAL) when the plain calls are switched off', () => {
    const m = machine();
    const { lru, mem } = m;
    const f = anonFolio(mem, 0, 0);
    let state = 0;
    runScript(m, function* () {
      yield* onLru(m, f);
      lruUncontended.enabled = false;
      state = lru.folioIsolateLruStart(f);
      expect(folioTestFlag(mem, f, PG_lru)).toBe(true);
      expect(folioRefCount(mem, f)).toBe(1);
      expect(yield* lru.folioIsolateLru(f)).toBe(true);
    });
    expect(state).toBe(ISOLATE_LRU_GENERAL);
  });

  test('Finish refuses a state that leaves nothing pending', () => {
    const m = machine();
    const { lru, mem } = m;
    const f = anonFolio(mem, 0, 0);
    runScript(m, function* () {
      expect(() => lru.folioIsolateLruFinish(f, ISOLATE_LRU_DONE).next()).toThrow(
        /not ISOLATE_LRU_YIELD or ISOLATE_LRU_SPIN/,
      );
    });
  });
});
