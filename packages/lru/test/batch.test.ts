import { folioRefCount, folioTestFlag, PG_lru } from '@mmsim/folio';
import { exploreExhaustively, NodeStat } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { LRU_INACTIVE_ANON, LRU_INACTIVE_FILE, PAGEVEC_SIZE } from '../src/index.js';
import {
  anonFolio,
  fileFolio,
  createLruMachine as machine,
  onCpu,
  runScript,
} from '../src/testing/index.js';

describe('per-CPU lru_add batches', () => {
  test('PAGEVEC_SIZE is 15 in 6.3, and the 15th add moves the whole batch', () => {
    expect(PAGEVEC_SIZE).toBe(15);
    const m = machine();
    const { lru, mem, rt } = m;
    const folios = Array.from({ length: 15 }, () => anonFolio(mem, 0));
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        for (let i = 0; i < 14; i++) yield* lru.folioAddLru(folios[i] as number);
      });
      expect(lru.view.batchFolios(0)).toEqual(folios.slice(0, 14));
      expect(lru.view.listLength(0, LRU_INACTIVE_ANON)).toBe(0);
      for (const f of folios.slice(0, 14)) {
        expect(folioTestFlag(mem, f, PG_lru)).toBe(false);
        expect(folioRefCount(mem, f)).toBe(2); // ours + the batch's
      }
      yield* onCpu(rt, 0, () => lru.folioAddLru(folios[14] as number));
      expect(lru.view.batchLength(0)).toBe(0);
      // Each folio was added at the head, so the list is in reverse order of adding.
      expect(lru.view.listFolios(0, LRU_INACTIVE_ANON)).toEqual([...folios].reverse());
      for (const f of folios) {
        expect(folioTestFlag(mem, f, PG_lru)).toBe(true);
        expect(folioRefCount(mem, f)).toBe(1); // the batch reference was dropped
      }
      expect(lru.view.check()).toEqual([]);
    });
  });

  test('each insertion emits mm_lru_insertion with the pfn and the list', () => {
    const m = machine();
    const { lru, mem, rt } = m;
    const a = anonFolio(mem, 0);
    const b = fileFolio(mem, 1);
    const seen: unknown[] = [];
    rt.trace.on('mm_lru_insertion', (e) => seen.push([e.cpu, e.fields]));
    runScript(m, function* () {
      yield* onCpu(rt, 1, function* () {
        yield* lru.folioAddLru(a);
        yield* lru.folioAddLru(b);
        yield* lru.lruAddDrain();
      });
    });
    expect(seen).toEqual([
      [1, { pfn: a, lru: LRU_INACTIVE_ANON }],
      [1, { pfn: b, lru: LRU_INACTIVE_FILE }],
    ]);
  });

  test('a large folio skips the batch, and takes the folios queued before it along', () => {
    const m = machine();
    const { lru, mem, rt } = m;
    const small = anonFolio(mem, 0);
    const thp = anonFolio(mem, 0, 9);
    runScript(m, function* () {
      yield* onCpu(rt, 0, () => lru.folioAddLru(small));
      expect(lru.view.batchFolios(0)).toEqual([small]);
      yield* onCpu(rt, 0, () => lru.folioAddLru(thp));
      expect(lru.view.batchLength(0)).toBe(0);
      expect(lru.view.listFolios(0, LRU_INACTIVE_ANON)).toEqual([thp, small]);
      expect(lru.view.listPages(0, LRU_INACTIVE_ANON)).toBe(513);
      expect(m.vmstat.nodePageState(0, NodeStat.NR_INACTIVE_ANON)).toBe(513);
    });
  });

  test('draining one CPU leaves the other CPUs batches alone; drainAll drains them all', () => {
    const m = machine({ cpuNodes: [0, 0, 1] });
    const { lru, mem, rt } = m;
    const a = anonFolio(mem, 0);
    const b = anonFolio(mem, 0);
    const c = fileFolio(mem, 1);
    runScript(m, function* () {
      yield* onCpu(rt, 0, () => lru.folioAddLru(a));
      yield* onCpu(rt, 1, () => lru.folioAddLru(b));
      yield* onCpu(rt, 2, () => lru.folioAddLru(c));
      yield* onCpu(rt, 1, () => lru.lruAddDrain());
      expect(lru.view.batchFolios(0)).toEqual([a]);
      expect(lru.view.batchFolios(1)).toEqual([]);
      expect(lru.view.batchFolios(2)).toEqual([c]);
      expect(lru.view.listFolios(0, LRU_INACTIVE_ANON)).toEqual([b]);
      // lru_add_drain_all from CPU 1 empties every batch, each folio to its own node.
      yield* onCpu(rt, 1, () => lru.lruAddDrainAll());
      for (let cpu = 0; cpu < 3; cpu++) expect(lru.view.batchLength(cpu)).toBe(0);
      expect(lru.view.listFolios(0, LRU_INACTIVE_ANON)).toEqual([a, b]);
      expect(lru.view.listFolios(1, LRU_INACTIVE_FILE)).toEqual([c]);
      expect(lru.view.check()).toEqual([]);
    });
  });

  test('one batch holding folios of two nodes sends each to its own node', () => {
    const m = machine();
    const { lru, mem, rt } = m;
    const folios = [anonFolio(mem, 0), anonFolio(mem, 1), anonFolio(mem, 1), anonFolio(mem, 0)];
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        for (const f of folios) yield* lru.folioAddLru(f);
        yield* lru.lruAddDrain();
      });
      expect(lru.view.listFolios(0, LRU_INACTIVE_ANON)).toEqual([folios[3], folios[0]]);
      expect(lru.view.listFolios(1, LRU_INACTIVE_ANON)).toEqual([folios[2], folios[1]]);
      expect(m.vmstat.nodePageState(0, NodeStat.NR_INACTIVE_ANON)).toBe(2);
      expect(m.vmstat.nodePageState(1, NodeStat.NR_INACTIVE_ANON)).toBe(2);
      expect(lru.view.check()).toEqual([]);
    });
  });

  test('a folio in a batch cannot be isolated until it is drained', () => {
    const m = machine();
    const { lru, mem, rt } = m;
    const f = anonFolio(mem, 0);
    runScript(m, function* () {
      yield* onCpu(rt, 0, () => lru.folioAddLru(f));
      // From another CPU, and from its own: PG_lru is clear while it waits.
      expect(yield* onCpu(rt, 1, () => lru.folioIsolateLru(f))).toBe(false);
      expect(yield* onCpu(rt, 0, () => lru.folioIsolateLru(f))).toBe(false);
      // Draining the wrong CPU does not help.
      yield* onCpu(rt, 1, () => lru.lruAddDrain());
      expect(yield* onCpu(rt, 1, () => lru.folioIsolateLru(f))).toBe(false);
      yield* onCpu(rt, 0, () => lru.lruAddDrain());
      expect(yield* onCpu(rt, 1, () => lru.folioIsolateLru(f))).toBe(true);
      expect(folioRefCount(mem, f)).toBe(2);
    });
  });

  test('lru_cache_disable drains every CPU, and while disabled folio_add_lru goes straight to the list', () => {
    const m = machine();
    const { lru, mem, rt } = m;
    const parked = anonFolio(mem, 0);
    const late = anonFolio(mem, 1);
    const after = anonFolio(mem, 0);
    runScript(m, function* () {
      yield* onCpu(rt, 1, () => lru.folioAddLru(parked));
      expect(yield* onCpu(rt, 0, () => lru.folioIsolateLru(parked))).toBe(false);
      yield* onCpu(rt, 0, () => lru.lruCacheDisable());
      expect(lru.lruCacheDisabled()).toBe(true);
      expect(lru.view.lruDisableCount).toBe(1);
      expect(lru.view.batchLength(1)).toBe(0);
      expect(yield* onCpu(rt, 0, () => lru.folioIsolateLru(parked))).toBe(true);
      // While disabled, a new add reaches its list at once, from any CPU.
      yield* onCpu(rt, 1, () => lru.folioAddLru(late));
      expect(lru.view.batchLength(1)).toBe(0);
      expect(lru.view.listFolios(1, LRU_INACTIVE_ANON)).toEqual([late]);
      expect(yield* onCpu(rt, 0, () => lru.folioIsolateLru(late))).toBe(true);
      // Disable nests; the cache is back only when every disable has been matched.
      yield* onCpu(rt, 0, () => lru.lruCacheDisable());
      lru.lruCacheEnable();
      expect(lru.lruCacheDisabled()).toBe(true);
      lru.lruCacheEnable();
      expect(lru.lruCacheDisabled()).toBe(false);
      yield* onCpu(rt, 0, () => lru.folioAddLru(after));
      expect(lru.view.batchFolios(0)).toEqual([after]);
      expect(lru.view.check()).toEqual([]);
    });
  });

  test('drain_all waits for a move of another CPU that is in flight (every schedule)', () => {
    // CPU 0 fills its batch while CPU 1 may hold node 0's lru_lock, so CPU 0's move can stall
    // in the middle; a drain_all from CPU 2 must still return only when every folio queued
    // before it started is on its list.
    let inFlight = 0;
    const explored = exploreExhaustively((strategy) => {
      const m = machine({ cpuNodes: [0, 0, 0], strategy });
      const { lru, mem, rt } = m;
      const folios = Array.from({ length: PAGEVEC_SIZE }, () => anonFolio(mem, 0));
      let started = 0;
      rt.spawn('adder', 0, function* () {
        for (const f of folios) {
          started++;
          yield* lru.folioAddLru(f);
        }
      });
      rt.spawn('holder', 1, function* () {
        const lock = lru.lruLock(0);
        yield* lock.lock();
        yield;
        lock.unlock();
      });
      rt.spawn('drainer', 2, function* () {
        yield;
        const before = started;
        if (before === PAGEVEC_SIZE && lru.lruLock(0).owner?.name === 'holder') inFlight++;
        yield* lru.lruAddDrainAll();
        for (const f of folios.slice(0, before)) expect(folioTestFlag(mem, f, PG_lru)).toBe(true);
      });
      expect(rt.run().status).toBe('completed');
      expect(lru.view.check()).toEqual([]);
      expect(lru.view.listLength(0, LRU_INACTIVE_ANON)).toBe(PAGEVEC_SIZE);
    });
    expect(explored.complete).toBe(true);
    expect(explored.schedules).toBeGreaterThan(1);
    expect(inFlight).toBeGreaterThan(0);
  });
});
