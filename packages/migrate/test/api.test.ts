import {
  createPhysicalMemory,
  FolioList,
  folioAlloc,
  folioClearFlag,
  folioPut,
  folioRefCount,
  folioSetFlag,
  HPAGE_PMD_NR,
  PG_lru,
} from '@mmsim/folio';
import { newList, runAll, spawn } from '@mmsim/lru/test';
import { type KernelGen, MmsimError, NodeStat } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  DriverCallbackError,
  MIGRATE_ASYNC,
  MIGRATE_MODE_NAMES,
  MIGRATE_REASON_NAMES,
  MIGRATE_SYNC,
  MigrateCore,
  MR_COMPACTION,
  MR_DEMOTION,
  MR_SYSCALL,
  MR_TYPES,
  migrateReasonName,
  NR_MAX_BATCHED_MIGRATION,
  NR_MAX_MIGRATE_ASYNC_RETRY,
  NR_MAX_MIGRATE_PAGES_RETRY,
  NR_MAX_MIGRATE_SYNC_RETRY,
  resolveVariant,
  setPageMovable,
  VARIANTS,
} from '../src/index.js';
import {
  anonIsolated,
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  type MigrateMachine as Machine,
  pageCacheIsolated,
} from '../src/testing/index.js';

describe('kernel constants', () => {
  it('batch size, pass budgets, modes and reasons have the kernel values and strings', () => {
    expect(NR_MAX_BATCHED_MIGRATION).toBe(HPAGE_PMD_NR);
    expect(NR_MAX_BATCHED_MIGRATION).toBe(512);
    expect([
      NR_MAX_MIGRATE_PAGES_RETRY,
      NR_MAX_MIGRATE_ASYNC_RETRY,
      NR_MAX_MIGRATE_SYNC_RETRY,
    ]).toEqual([10, 3, 7]);
    expect(MIGRATE_MODE_NAMES).toEqual([
      'MIGRATE_ASYNC',
      'MIGRATE_SYNC_LIGHT',
      'MIGRATE_SYNC',
      'MIGRATE_SYNC_NO_COPY',
    ]);
    expect(MIGRATE_REASON_NAMES).toEqual([
      'compaction',
      'memory_failure',
      'memory_hotplug',
      'syscall_or_cpuset',
      'mempolicy_mbind',
      'numa_misplaced',
      'contig_range',
      'longterm_pin',
      'demotion',
    ]);
    expect(MR_TYPES).toBe(9);
    expect(migrateReasonName(MR_DEMOTION)).toBe('demotion');
  });

  it('variants: the built-in kernels in history order; v6.3 is the default; a custom variant is checked field by field', () => {
    expect(Object.keys(VARIANTS)).toEqual([
      'v6.2',
      'rfc-2022',
      'v6.3-rc1',
      'v6.3',
      'v6.4',
      'v6.10',
      'v6.11',
      'v6.12',
      'v6.17',
      'batch-copy',
    ]);
    expect(resolveVariant(undefined).name).toBe('v6.3');
    const custom = resolveVariant({
      ...VARIANTS['v6.3'],
      name: 'v6.3-trylock',
      splitTrylockInAsync: true,
    });
    expect(custom.splitTrylockInAsync).toBe(true);
    expect(custom.name).toBe('v6.3-trylock');
    expect(() => resolveVariant('v5.15' as never)).toThrow(/variant must be one of/);
    expect(() => resolveVariant({ ...VARIANTS['v6.3'], batchFlush: 'sometimes' } as never)).toThrow(
      /batchFlush/,
    );
    const { engine: _engine, ...missing } = VARIANTS['v6.3'];
    expect(() => resolveVariant(missing as never)).toThrow(/variant.engine is missing/);
  });
});

describe('misuse throws an MmsimError and changes nothing', () => {
  function expectThrows(m: Machine, body: () => KernelGen<unknown>, code: string, message: RegExp) {
    let error: unknown = null;
    spawn(m, 'caller', 0, function* (): KernelGen {
      try {
        yield* body();
      } catch (e) {
        error = e;
      }
    });
    runAll(m);
    expect(error).toBeInstanceOf(MmsimError);
    expect((error as MmsimError).code).toBe(code);
    expect((error as Error).message).toMatch(message);
  }

  it('a bad mode or reason, a list of another memory or the hugetlb active list', () => {
    const m = buildMachine();
    const other = new FolioList(createPhysicalMemory({ nodes: [{ pages: 64 }] }));
    const get = m.core.allocMigrationTarget;
    expectThrows(
      m,
      () => m.core.migratePages(newList(m), get, null, { nid: 1 }, 7 as never, MR_SYSCALL),
      'INVALID_ARGUMENT',
      /mode must be/,
    );
    const m2 = buildMachine();
    expectThrows(
      m2,
      () => m2.core.migratePages(newList(m2), get, null, { nid: 1 }, MIGRATE_SYNC, 9 as never),
      'INVALID_ARGUMENT',
      /reason must be/,
    );
    const m3 = buildMachine();
    expectThrows(
      m3,
      () => m3.core.migratePages(other, get, null, { nid: 1 }, MIGRATE_SYNC, MR_SYSCALL),
      'INVALID_ARGUMENT',
      /same PhysicalMemory/,
    );
    const m4 = buildMachine();
    expectThrows(
      m4,
      () =>
        m4.core.migratePages(
          m4.core.hugepageActivelist,
          get,
          null,
          { nid: 1 },
          MIGRATE_SYNC,
          MR_SYSCALL,
        ),
      'INVALID_ARGUMENT',
      /active list/,
    );
    const m5 = buildMachine();
    expectThrows(
      m5,
      () =>
        m5.core.migratePages(newList(m5), 'alloc' as never, null, null, MIGRATE_SYNC, MR_SYSCALL),
      'INVALID_ARGUMENT',
      /getNewFolio/,
    );
  });

  it('a folio that is not isolated: PG_lru still set, or a movable page without PG_isolated', () => {
    const m = buildMachine();
    const errors: unknown[] = [];
    spawn(m, 'caller', 0, function* (): KernelGen {
      const { list } = yield* anonIsolated(m, 2);
      const before = list.toArray();
      // A caller bug: a folio that still has PG_lru (it was never isolated).
      const stray = folioAlloc(m.mem, 0, 0);
      folioSetFlag(m.mem, stray, PG_lru);
      list.addTail(stray);
      const movable = folioAlloc(m.mem, 0, 0);
      setPageMovable(m.mem, movable, {
        name: 'drv',
        isolatePage: () => true,
        migratePage: () => 0,
        putbackPage: () => {},
      });
      for (const bad of [stray, movable]) {
        if (bad === movable) {
          list.del(stray);
          list.addTail(movable);
        }
        try {
          yield* m.core.migratePages(
            list,
            m.core.allocMigrationTarget,
            null,
            { nid: 1 },
            MIGRATE_SYNC,
            MR_SYSCALL,
          );
        } catch (e) {
          errors.push(e);
        }
      }
      // Nothing changed.
      expect(list.toArray()).toEqual([...before, movable]);
      expect(before.every((f) => folioRefCount(m.mem, f) === 2)).toBe(true);
      expect(m.vmstat.globalNodePageState(NodeStat.NR_ISOLATED_ANON)).toBe(2);
      list.del(movable);
      folioClearFlag(m.mem, stray, PG_lru);
      folioPut(m.mem, stray);
      folioPut(m.mem, movable);
      yield* m.core.putbackMovablePages(list);
    });
    runAll(m);
    expect(errors).toHaveLength(2);
    expect((errors[0] as MmsimError).code).toBe('CONTRACT_VIOLATION');
    expect((errors[0] as Error).message).toMatch(/has PG_lru set/);
    expect((errors[1] as Error).message).toMatch(/without PG_isolated/);
    expectQuiescent(m);
  });

  it('outside a task: NO_CURRENT_TASK', () => {
    const m = buildMachine();
    const gen = m.core.migratePages(
      newList(m),
      m.core.allocMigrationTarget,
      null,
      { nid: 1 },
      MIGRATE_ASYNC,
      MR_SYSCALL,
    );
    expect(() => gen.next()).toThrow(/must be called from a running task/);
  });

  it('bad dependencies or options: INVALID_CONFIG', () => {
    const m = buildMachine();
    const { rt, mem, vmstat, locks, lru, vm } = m;
    expect(() => new MigrateCore({ rt, mem, vmstat, locks, lru, rmap: vm } as never)).toThrow(
      /deps.tlb/,
    );
    expect(
      () =>
        new MigrateCore({ rt, mem, vmstat, locks, lru, rmap: vm, tlb: vm, variant: 'v7' as never }),
    ).toThrow(/variant must be one of/);
    expect(
      () =>
        new MigrateCore({
          rt,
          mem,
          vmstat,
          locks,
          lru,
          rmap: vm,
          tlb: vm,
          thpMigrationSupported: 1 as never,
        }),
    ).toThrow(/thpMigrationSupported must be a boolean/);
    expect(() => m.core.setAddressSpaceOperations({} as never, { name: 'x' } as never)).toThrow(
      /migrateFolio must be given/,
    );
    expect(() => m.core.allocMigrationTarget(0, { nid: 5 })).toThrow(/nid must be/);
  });

  it('callbacks that throw or misbehave: DriverCallbackError / CONTRACT_VIOLATION naming them', () => {
    const cases: Array<[string, (m: Machine) => KernelGen<unknown>, RegExp, boolean]> = [
      [
        'get_new_page throws',
        function* (m) {
          const { list } = yield* anonIsolated(m, 1);
          yield* m.core.migratePages(
            list,
            () => {
              throw new Error('out of ideas');
            },
            null,
            null,
            MIGRATE_ASYNC,
            MR_COMPACTION,
          );
        },
        /migrate_pages caller\.get_new_page threw: Error: out of ideas/,
        true,
      ],
      [
        'get_new_page returns a folio of another size',
        function* (m) {
          const { list } = yield* anonIsolated(m, 1);
          yield* m.core.migratePages(
            list,
            () => folioAlloc(m.mem, 1, 1),
            null,
            null,
            MIGRATE_ASYNC,
            MR_COMPACTION,
          );
        },
        /the destination must be a new folio of the same size/,
        false,
      ],
      [
        'an address space migrate_folio throws',
        function* (m) {
          const { file, list } = yield* pageCacheIsolated(m, 1);
          m.core.setAddressSpaceOperations(file, {
            name: 'badfs_aops',
            *migrateFolio() {
              throw new TypeError('null inode');
            },
          });
          yield* m.core.migratePages(
            list,
            m.core.allocMigrationTarget,
            null,
            { nid: 1 },
            MIGRATE_ASYNC,
            MR_COMPACTION,
          );
        },
        /badfs_aops\.migrate_folio threw: TypeError: null inode/,
        true,
      ],
    ];
    for (const [what, body, message, driverError] of cases) {
      const m = buildMachine();
      spawn(m, 'caller', 0, () => body(m));
      let error: unknown = null;
      try {
        m.rt.run();
      } catch (e) {
        error = e;
      }
      expect(error, what).toBeInstanceOf(MmsimError);
      expect((error as Error).message, what).toMatch(message);
      expect(error instanceof DriverCallbackError, what).toBe(driverError);
    }
  });
});
