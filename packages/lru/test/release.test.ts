import {
  folioNid,
  folioRefCount,
  folioSetFlag,
  folioSetMapping,
  nodeFreePages,
  PG_active,
  pfnFolio,
} from '@mmsim/folio';
import { NodeStat } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { LRU_ACTIVE_ANON, LRU_INACTIVE_ANON } from '../src/index.js';
import { anonFolio, createLruMachine as machine, onCpu, runScript } from '../src/testing/index.js';

describe('dropping the last reference of an LRU folio', () => {
  test('folioPut of the last reference takes the folio off its list and frees it', () => {
    const m = machine();
    const { lru, mem, rt } = m;
    const f = anonFolio(mem, 1, 2);
    folioSetFlag(mem, f, PG_active);
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        yield* lru.folioAddLru(f);
        yield* lru.lruAddDrain();
      });
      expect(lru.view.listPages(1, LRU_ACTIVE_ANON)).toBe(4);
      const free = nodeFreePages(mem, 1);
      folioSetMapping(mem, f, 0, null); // unmapped from its anon_vma, as zap would leave it
      yield* onCpu(rt, 0, () => lru.folioPut(f));
      expect(pfnFolio(mem, f)).toBe(-1); // freed
      expect(nodeFreePages(mem, 1)).toBe(free + 4);
      expect(lru.view.listPages(1, LRU_ACTIVE_ANON)).toBe(0);
      expect(m.vmstat.nodePageState(1, NodeStat.NR_ACTIVE_ANON)).toBe(0);
      expect(lru.view.check()).toEqual([]);
    });
  });

  test('folioPut with other references left is a plain decrement', () => {
    const m = machine();
    const { lru, mem, rt } = m;
    const f = anonFolio(mem, 0);
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        yield* lru.folioAddLru(f);
        yield* lru.folioPut(f); // ours goes; the batch still holds one
        expect(folioRefCount(mem, f)).toBe(1);
        expect(lru.view.batchFolios(0)).toEqual([f]);
      });
    });
  });

  test('when the batch holds the last reference, the drain adds the folio and then frees it', () => {
    const m = machine();
    const { lru, mem, rt } = m;
    const f = anonFolio(mem, 0);
    const keep = anonFolio(mem, 0);
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        yield* lru.folioAddLru(f);
        yield* lru.folioAddLru(keep);
        folioSetMapping(mem, f, 0, null);
        yield* lru.folioPut(f); // truncated while parked: only the batch holds it now
        expect(folioRefCount(mem, f)).toBe(1);
        yield* lru.lruAddDrain();
      });
      expect(pfnFolio(mem, f)).toBe(-1);
      expect(lru.view.listFolios(0, LRU_INACTIVE_ANON)).toEqual([keep]);
      expect(folioNid(mem, keep)).toBe(0);
      expect(lru.view.check()).toEqual([]);
    });
  });

  test('putback whose isolation reference is the last one frees the folio', () => {
    const m = machine();
    const { lru, mem, rt } = m;
    const f = anonFolio(mem, 0, 9); // large: putback moves it at once
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        yield* lru.folioAddLru(f);
        expect(yield* lru.folioIsolateLru(f)).toBe(true);
        // The owner goes away while the folio is isolated.
        yield* lru.folioPut(f);
        folioSetMapping(mem, f, 0, null);
        yield* lru.folioPutbackLru(f);
      });
      expect(pfnFolio(mem, f)).toBe(-1);
      expect(lru.view.listPages(0, LRU_INACTIVE_ANON)).toBe(0);
      expect(lru.view.check()).toEqual([]);
    });
  });
});
