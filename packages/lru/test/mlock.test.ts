import {
  folioGet,
  folioSetFlag,
  folioTestFlag,
  PG_lru,
  PG_mlocked,
  PG_unevictable,
} from '@mmsim/folio';
import { NodeStat, VmEvent } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { LRU_INACTIVE_ANON, LRU_UNEVICTABLE } from '../src/index.js';
import { anonFolio, createLruMachine as machine, onCpu, runScript } from '../src/testing/index.js';

/* mm/mlock.c (Linux 6.3): PG_mlocked, nr_mlock, the mlock_fbatch and the unevictable list. */

describe('mlock on the LRU', () => {
  test('mlock_new_folio puts a new folio on the unevictable list, mlocked and counted', () => {
    const m = machine();
    const { lru, mem, rt, vmstat } = m;
    const f = anonFolio(mem, 0);
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        expect(lru.mlockNewFolio(f)).toBe(false); // a small folio waits in the batch
        expect(folioTestFlag(mem, f, PG_mlocked)).toBe(true);
        expect(lru.view.mlockBatchFolios(0)).toEqual([f]);
        expect(lru.view.check()).toEqual([]); // off the LRU, in the mlock batch
        yield* lru.mlockDrainLocal();
      });
      expect(lru.view.folioLru(f)).toEqual({ nid: 0, lru: LRU_UNEVICTABLE });
      expect(folioTestFlag(mem, f, PG_unevictable)).toBe(true);
      expect(lru.view.mlockCount(f)).toBe(1);
      expect(vmstat.nodePageState(0, NodeStat.NR_MLOCK)).toBe(1);
      expect(vmstat.nodePageState(0, NodeStat.NR_UNEVICTABLE)).toBe(1);
      expect(vmstat.vmEvent(VmEvent.UNEVICTABLE_PGS_MLOCKED)).toBe(1);
      expect(vmstat.vmEvent(VmEvent.UNEVICTABLE_PGS_CULLED)).toBe(1);
      expect(lru.view.check()).toEqual([]);
    });
  });

  test('mlock_folio of a folio on an evictable list moves it at the drain; the check accepts it in between', () => {
    const m = machine();
    const { lru, mem, rt, vmstat } = m;
    const f = anonFolio(mem, 0);
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        yield* lru.folioAddLru(f);
        yield* lru.lruAddDrain();
        expect(lru.view.folioLru(f)).toEqual({ nid: 0, lru: LRU_INACTIVE_ANON });
        expect(lru.mlockFolio(f)).toBe(false);
        // Mlocked on the inactive list while the mlock batch holds it: a legal state.
        expect(lru.view.check()).toEqual([]);
        // A second mapping mlocks it again: counted once in nr_mlock.
        lru.mlockFolio(f);
        yield* lru.lruAddDrain(); // ends with mlock_drain_local
      });
      expect(lru.view.folioLru(f)).toEqual({ nid: 0, lru: LRU_UNEVICTABLE });
      expect(lru.view.mlockCount(f)).toBe(2);
      expect(vmstat.nodePageState(0, NodeStat.NR_MLOCK)).toBe(1);
      expect(vmstat.vmEvent(VmEvent.UNEVICTABLE_PGS_MLOCKED)).toBe(1);
      expect(lru.view.check()).toEqual([]);

      // munlock: the first one only counts down; the last clears PG_mlocked and rescues it.
      yield* onCpu(rt, 0, function* () {
        lru.munlockFolio(f);
        yield* lru.mlockDrainLocal();
        expect(lru.view.mlockCount(f)).toBe(1);
        expect(folioTestFlag(mem, f, PG_mlocked)).toBe(true);
        lru.munlockFolio(f);
        yield* lru.mlockDrainLocal();
      });
      expect(folioTestFlag(mem, f, PG_mlocked)).toBe(false);
      expect(lru.view.folioLru(f)).toEqual({ nid: 0, lru: LRU_INACTIVE_ANON });
      expect(vmstat.nodePageState(0, NodeStat.NR_MLOCK)).toBe(0);
      expect(vmstat.vmEvent(VmEvent.UNEVICTABLE_PGS_MUNLOCKED)).toBe(1);
      expect(vmstat.vmEvent(VmEvent.UNEVICTABLE_PGS_RESCUED)).toBe(1);
      expect(lru.view.check()).toEqual([]);
    });
  });

  test('the check rejects an mlocked folio on an evictable list that no mlock batch holds', () => {
    const m = machine();
    const { lru, mem, rt, vmstat } = m;
    const f = anonFolio(mem, 0);
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        yield* lru.folioAddLru(f);
        yield* lru.lruAddDrain();
      });
      // PG_mlocked (with its nr_mlock) behind the mlock code's back: nothing will move it.
      folioSetFlag(mem, f, PG_mlocked);
      vmstat.modNodePageState(0, NodeStat.NR_MLOCK, 1);
      expect(lru.view.check()).toEqual([
        'node 0 inactive_anon: folio ' +
          `${f} is mlocked but not on the unevictable list, and no mlock_fbatch holds it`,
      ]);
    });
  });

  test('an mlocked folio left on an evictable list by an isolator that cleared PG_lru is legal', () => {
    const m = machine();
    const { lru, mem, rt } = m;
    const f = anonFolio(mem, 0);
    runScript(m, function* () {
      // A timed sleep pending on another CPU, so that isolation's scheduling point is a real
      // round (a yield), not a virtual step.
      rt.spawn('sleeper', 1, function* () {
        yield* rt.sleepFor(1_000_000_000);
      });
      yield* onCpu(rt, 0, function* () {
        yield* lru.folioAddLru(f);
        yield* lru.lruAddDrain();
        // folio_isolate_lru up to its scheduling point: PG_lru cleared, still on the list.
        const isolation = lru.folioIsolateLru(f);
        let step = isolation.next();
        expect(step.done).toBe(false);
        expect(folioTestFlag(mem, f, PG_lru)).toBe(false);
        // mlock_folio, and a drain whose __mlock_folio finds PG_lru clear and leaves it.
        lru.mlockFolio(f);
        yield* lru.mlockDrainLocal();
        expect(lru.view.mlockBatchFolios(0)).toEqual([]);
        expect(lru.view.folioLru(f)).toEqual({ nid: 0, lru: LRU_INACTIVE_ANON });
        expect(lru.view.check()).toEqual([]);
        expect(lru.view.check({ incremental: true })).toEqual([]);
        // The isolation ends; the putback files it as unevictable (lru_add_fn).
        while (!step.done) {
          yield step.value;
          step = isolation.next();
        }
        expect(step.value).toBe(true);
        expect(lru.view.check()).toEqual([]);
        yield* lru.folioPutbackLru(f);
        yield* lru.lruAddDrain();
      });
      expect(lru.view.folioLru(f)).toEqual({ nid: 0, lru: LRU_UNEVICTABLE });
      expect(lru.view.check()).toEqual([]);
    });
  });

  test('the check rejects nr_mlock out of step with the mlocked folios', () => {
    const m = machine();
    const { lru, mem, rt } = m;
    const f = anonFolio(mem, 1);
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        folioSetFlag(mem, f, PG_mlocked); // no nr_mlock
        yield* lru.folioAddLru(f);
        yield* lru.lruAddDrain();
      });
      expect(lru.view.folioLru(f)).toEqual({ nid: 1, lru: LRU_UNEVICTABLE });
      expect(lru.view.check()).toEqual([
        'node 1: nr_mlock is 0 but its mlocked folios have 1 pages',
      ]);
      expect(lru.view.check({ scanMemory: false })).toEqual([]);
    });
  });

  test('munlock of an isolated unevictable folio (as try_to_migrate does) counts it stranded', () => {
    const m = machine();
    const { lru, mem, rt, vmstat } = m;
    const f = anonFolio(mem, 0);
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        lru.mlockNewFolio(f);
        yield* lru.mlockDrainLocal();
        folioGet(mem, f);
        expect(yield* lru.folioIsolateLru(f)).toBe(true);
        lru.munlockFolio(f);
        yield* lru.mlockDrainLocal();
      });
      expect(folioTestFlag(mem, f, PG_mlocked)).toBe(false);
      expect(folioTestFlag(mem, f, PG_unevictable)).toBe(true); // still, until putback
      expect(vmstat.vmEvent(VmEvent.UNEVICTABLE_PGS_STRANDED)).toBe(1);
      expect(vmstat.vmEvent(VmEvent.UNEVICTABLE_PGS_MUNLOCKED)).toBe(0);
      expect(vmstat.nodePageState(0, NodeStat.NR_MLOCK)).toBe(0);
      // putback: lru_add_fn finds it evictable and rescues it.
      yield* onCpu(rt, 0, function* () {
        yield* lru.folioPutbackLru(f);
        yield* lru.lruAddDrain();
        yield* lru.folioPut(f);
      });
      expect(lru.view.folioLru(f)).toEqual({ nid: 0, lru: LRU_INACTIVE_ANON });
      expect(vmstat.vmEvent(VmEvent.UNEVICTABLE_PGS_RESCUED)).toBe(1);
      expect(lru.view.check()).toEqual([]);
    });
  });

  test('the last put of an mlocked folio clears PG_mlocked: nr_mlock down, unevictable_pgs_cleared', () => {
    const m = machine();
    const { lru, mem, rt, vmstat } = m;
    const f = anonFolio(mem, 0, 2);
    runScript(m, function* () {
      yield* onCpu(rt, 0, function* () {
        expect(lru.mlockNewFolio(f)).toBe(true); // large: the kernel drains at once
        yield* lru.mlockDrainLocal();
        expect(vmstat.nodePageState(0, NodeStat.NR_MLOCK)).toBe(4);
        yield* lru.folioPut(f); // the allocation's reference, the last one
      });
      expect(vmstat.nodePageState(0, NodeStat.NR_MLOCK)).toBe(0);
      expect(vmstat.vmEvent(VmEvent.UNEVICTABLE_PGS_CLEARED)).toBe(4);
      expect(lru.view.check()).toEqual([]);
    });
  });
});
