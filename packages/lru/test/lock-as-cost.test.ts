import { createPhysicalMemory, type Folio } from '@mmsim/folio';
import { FootprintLog, type KernelGen, Runtime, VmStat } from '@mmsim/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { ISOLATE_LRU_DONE, ISOLATE_LRU_YIELD, LruVecs } from '../src/index.js';
import { lruUncontended } from '../src/internal.js';
import { anonFolio } from '../src/testing/index.js';

const FOLIOS = 20;

/**
 * On CPU 0: FOLIOS anon folios through the fused `folio_add_lru` + drain, then isolated
 * with the plain start of `folio_isolate_lru`, then added back one by one (the batch fills
 * and moves as plain calls). Returns the object ids the footprint log recorded during the
 * fused adds (null without footprints), the clocks, and what the locks look like afterwards.
 */
function run(footprints: boolean) {
  const log = footprints ? new FootprintLog() : null;
  const rt = new Runtime({ cpus: 2, cpuNodes: [0, 1], footprints: log });
  const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }, { pages: 1024 }] });
  const lru = new LruVecs(rt, mem, new VmStat(2));
  const folios: Folio[] = [];
  for (let i = 0; i < FOLIOS; i++) folios.push(anonFolio(mem, 0));
  const states: number[] = [];
  let fused = 0;
  let added = 0;
  let heldAfter = -1;
  let addObjects = null as Set<number> | null;
  rt.spawn('t', 0, function* (): KernelGen {
    for (const f of folios) if (lru.folioAddLruDrainUncontended(f)) fused++;
    // What the fused adds touched (one step: nothing else ran in between).
    addObjects = log === null ? null : new Set(log.objects);
    for (const f of folios) {
      const state = lru.folioIsolateLruStart(f);
      states.push(state);
      // With footprints the scheduling point before lru_lock is a real round.
      if (state !== ISOLATE_LRU_DONE) yield* lru.folioIsolateLruFinish(f, state);
    }
    for (const f of folios) if (lru.folioAddLruUncontended(f)) added++;
    heldAfter = rt.current.held.length;
    yield;
  });
  const result = rt.run();
  return {
    status: result.status,
    clocks: result.cpuClocks,
    addObjects,
    lruLockId: lru.lruLock(0).objectId,
    lockFree: lru.lruLock(0).owner === null,
    fused,
    added,
    states,
    heldAfter,
    onLru: lru.view.check(),
  };
}

describe('uncontendedLock: a free lru_lock held within one plain call', () => {
  afterEach(() => {
    lruUncontended.lockAsCost = true;
  });

  it('is taken for real when footprints are recorded (DPOR sees it), and only charged otherwise, at the same cost', () => {
    const withLog = run(true);
    const asCost = run(false);
    lruUncontended.lockAsCost = false;
    const locked = run(false);
    for (const r of [withLog, asCost, locked]) {
      expect(r.status).toBe('completed');
      expect(r.fused).toBe(FOLIOS);
      expect(r.added).toBe(FOLIOS);
      expect(r.lockFree).toBe(true);
      expect(r.heldAfter).toBe(0);
      expect(r.onLru).toEqual([]);
    }
    const all = (state: number) => Array.from({ length: FOLIOS }, () => state);
    expect(asCost.states).toEqual(all(ISOLATE_LRU_DONE));
    expect(locked.states).toEqual(all(ISOLATE_LRU_DONE));
    expect(withLog.states).toEqual(all(ISOLATE_LRU_YIELD));
    // The explorer's footprints name lru_lock: the dependency between two tasks that take it
    // is seen.
    expect(withLog.addObjects?.has(withLog.lruLockId)).toBe(true);
    // Charged as a round trip either way: the same virtual time.
    expect(asCost.clocks).toEqual(locked.clocks);
    expect(asCost.clocks).toEqual(withLog.clocks);
  });
});
