import {
  allocHugetlbFolio,
  createPhysicalMemory,
  FolioList,
  folioPut,
  folioRefFreeze,
  folioSetFlag,
  folioSetMapping,
  PAGE_MAPPING_MOVABLE,
  PG_active,
  PG_unevictable,
} from '@mmsim/folio';
import { MmsimError, Runtime, VmStat } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { LruVecs, lruListName } from '../src/index.js';
import { anonFolio, createLruMachine as machine } from '../src/testing/index.js';
import { expectMisuse, expectMisuseInRun } from './helpers.js';

describe('misuse throws an MmsimError and changes nothing', () => {
  test('isolating a folio at refcount 0', () => {
    const m = machine();
    const f = anonFolio(m.mem, 0);
    expectMisuseInRun(
      m,
      [f],
      function* () {
        yield* m.lru.folioAddLru(f);
        yield* m.lru.lruAddDrain();
        folioRefFreeze(m.mem, f, 1);
      },
      () => m.lru.folioIsolateLru(f),
      'CONTRACT_VIOLATION',
      /refcount 0/,
    );
  });

  test('putback of a folio that is still on the LRU (PG_lru set)', () => {
    const m = machine();
    const f = anonFolio(m.mem, 0);
    expectMisuseInRun(
      m,
      [f],
      function* () {
        yield* m.lru.folioAddLru(f);
        yield* m.lru.lruAddDrain();
      },
      () => m.lru.folioPutbackLru(f),
      'CONTRACT_VIOLATION',
      /PG_lru/,
    );
    expect(m.lru.view.check()).toEqual([]);
  });

  test('putback of a folio still on a private list', () => {
    const m = machine();
    const f = anonFolio(m.mem, 0);
    const from = new FolioList(m.mem);
    expectMisuseInRun(
      m,
      [f],
      function* () {
        yield* m.lru.folioAddLru(f);
        yield* m.lru.lruAddDrain();
        expect(yield* m.lru.folioIsolateLru(f)).toBe(true);
        from.add(f);
      },
      () => m.lru.folioPutbackLru(f),
      'CONTRACT_VIOLATION',
      /on a list/,
    );
  });

  test('adding a folio twice to the batches', () => {
    const m = machine();
    const f = anonFolio(m.mem, 0);
    expectMisuseInRun(
      m,
      [f],
      function* () {
        yield* m.lru.folioAddLru(f);
      },
      () => m.lru.folioAddLru(f),
      'CONTRACT_VIOLATION',
      /already queued/,
    );
    expect(m.lru.view.check()).toEqual([]);
  });

  test('adding a folio with both PG_active and PG_unevictable', () => {
    const m = machine();
    const f = anonFolio(m.mem, 0);
    folioSetFlag(m.mem, f, PG_active);
    folioSetFlag(m.mem, f, PG_unevictable);
    expectMisuseInRun(
      m,
      [f],
      function* () {},
      () => m.lru.folioAddLru(f),
      'CONTRACT_VIOLATION',
      /PG_active and PG_unevictable/,
    );
  });

  test('adding hugetlb, non-LRU movable and frozen folios, and freed frames', () => {
    const mem = createPhysicalMemory({ nodes: [{ pages: 4096, hugetlbPages: 1 }] });
    const rt = new Runtime({ cpus: 1 });
    const lru = new LruVecs(rt, mem, new VmStat(1));
    const m = { rt, mem, vmstat: new VmStat(1), lru };
    const huge = allocHugetlbFolio(mem, 0);
    const movable = anonFolio(mem, 0);
    folioSetMapping(mem, movable, PAGE_MAPPING_MOVABLE, { movableOps: true });
    const frozen = anonFolio(mem, 0);
    folioRefFreeze(mem, frozen, 1);
    const gone = anonFolio(mem, 0);
    folioSetMapping(mem, gone, 0, null);
    folioPut(mem, gone);
    const cases: Array<[number, RegExp, string]> = [
      [huge, /hugetlb/, 'CONTRACT_VIOLATION'],
      [movable, /movable/, 'CONTRACT_VIOLATION'],
      [frozen, /refcount 0/, 'CONTRACT_VIOLATION'],
      [mem.zeroPfn, /zero page/, 'CONTRACT_VIOLATION'],
      [gone, /free/, 'USE_AFTER_FREE'],
    ];
    rt.spawn('t', 0, function* () {
      for (const [folio, message, code] of cases) {
        expectMisuse(
          m,
          [],
          () => {
            lru.folioAddLru(folio).next();
          },
          code as 'CONTRACT_VIOLATION',
          message,
        );
      }
      yield;
    });
    expect(rt.run().status).toBe('completed');
  });

  test('lru_cache_enable without a disable', () => {
    const m = machine();
    expectMisuse(m, [], () => m.lru.lruCacheEnable(), 'CONTRACT_VIOLATION', /lru_disable_count/);
  });

  test('lru_add_drain_all and lru_cache_disable while holding a spinlock', () => {
    for (const call of ['drainAll', 'disable'] as const) {
      const m = machine();
      const f = anonFolio(m.mem, 0);
      expectMisuseInRun(
        m,
        [f],
        function* () {
          yield* m.lru.folioAddLru(f);
          yield* m.lru.lruLock(1).lock();
        },
        () => (call === 'drainAll' ? m.lru.lruAddDrainAll() : m.lru.lruCacheDisable()),
        'SLEEP_IN_ATOMIC',
      );
    }
  });

  test('operations outside a running task', () => {
    const m = machine();
    const f = anonFolio(m.mem, 0);
    for (const gen of [
      () => m.lru.folioAddLru(f),
      () => m.lru.folioIsolateLru(f),
      () => m.lru.lruAddDrain(),
      () => m.lru.lruAddDrainAll(),
      () => m.lru.lruCacheDisable(),
    ]) {
      expectMisuse(m, [f], () => gen().next(), 'NO_CURRENT_TASK');
    }
  });

  test('bad node, CPU and list arguments of the view', () => {
    const m = machine();
    const v = m.lru.view;
    expectMisuse(m, [], () => v.listFolios(2, 0), 'INVALID_ARGUMENT', /nid/);
    expectMisuse(m, [], () => v.listFolios(0, 5), 'INVALID_ARGUMENT', /lru/);
    expectMisuse(m, [], () => v.listPages(-1, 0), 'INVALID_ARGUMENT', /nid/);
    expectMisuse(m, [], () => v.listLength(0, 1.5), 'INVALID_ARGUMENT', /lru/);
    expectMisuse(m, [], () => v.batchFolios(2), 'INVALID_ARGUMENT', /cpu/);
    expectMisuse(m, [], () => v.batchLength(-1), 'INVALID_ARGUMENT', /cpu/);
    expectMisuse(m, [], () => m.lru.lruLock(7), 'INVALID_ARGUMENT', /nid/);
    expectMisuse(m, [], () => lruListName(5), 'INVALID_ARGUMENT', /lru/);
  });

  test('a VmStat built for another number of nodes', () => {
    const rt = new Runtime({ cpus: 1 });
    const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }, { pages: 1024 }] });
    expect(() => new LruVecs(rt, mem, new VmStat(1))).toThrow(MmsimError);
    expect(() => new LruVecs(rt, mem, new VmStat(1))).toThrow(/2/);
  });
});
