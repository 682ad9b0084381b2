import { folioNid, pageContent } from '@mmsim/folio';
import { runAll, spawn } from '@mmsim/lru/test';
import type { FaultSpec, KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  type MigrateMode,
  MR_SYSCALL,
  type VariantName,
} from '../src/index.js';
import {
  anonIsolated,
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  migrateToNode,
  pageCacheIsolated,
} from '../src/testing/index.js';

/**
 * The fault sites of the migrate core beyond allocation failures: a lost `folio_trylock`
 * (`migrate.folio_trylock`) and a transient extra reference (`migrate.extra_ref`). Each
 * must give the kernel's legal outcome: -EAGAIN and a retry (or a sleeping lock in a sync
 * mode), never corruption.
 */
function migrateWithFaults(
  variant: VariantName,
  mode: MigrateMode,
  faults: Record<string, FaultSpec>,
  pages = 1,
  file = false,
) {
  const m = buildMachine({ variant });
  m.rt.faults.configure(faults);
  const out = { rc: Number.NaN, succeeded: 0, nodes: [] as number[], contents: [] as number[] };
  spawn(m, 'migrate', 0, function* (): KernelGen {
    const r = file
      ? yield* pageCacheIsolated(m, pages, { dirty: true })
      : yield* anonIsolated(m, pages, (i) => 100 + i);
    const { rc, stats } = yield* migrateToNode(m, r.list, 1, mode, MR_SYSCALL);
    out.rc = rc;
    out.succeeded = stats.nrSucceeded;
    if (rc !== 0) yield* m.core.putbackMovablePages(r.list);
    if (!file) {
      for (let i = 0; i < pages; i++) {
        const pfn = m.vm.followPage(r.mm, r.addr + i * 4096);
        out.nodes.push(folioNid(m.mem, pfn));
        out.contents.push(pageContent(m.mem, pfn));
      }
    }
  });
  runAll(m);
  expectQuiescent(m);
  return { m, out };
}

describe('fault site migrate.folio_trylock', () => {
  for (const variant of ['v6.2', 'v6.3', 'v6.11'] as const) {
    it(`${variant} async: a failed trylock of src is -EAGAIN, and the next pass migrates the folio`, () => {
      const { m, out } = migrateWithFaults(variant, MIGRATE_ASYNC, {
        'migrate.folio_trylock': { calls: [1] },
      });
      expect(m.rt.faults.get('migrate.folio_trylock')!.injected).toBe(1);
      expect(out).toMatchObject({ rc: 0, succeeded: 1, nodes: [1], contents: [100] });
    });
  }

  it('v6.3 async: a failed trylock of dst undoes the unmap step (-EAGAIN) and the retry migrates', () => {
    // Call 1 is src's trylock, call 2 dst's.
    const { m, out } = migrateWithFaults('v6.3', MIGRATE_ASYNC, {
      'migrate.folio_trylock': { calls: [2] },
    });
    expect(m.rt.faults.get('migrate.folio_trylock')!.injected).toBe(1);
    expect(out).toMatchObject({ rc: 0, succeeded: 1, nodes: [1], contents: [100] });
  });

  it('v6.3 sync: every src trylock failing, the one-by-one pass sleeps in folio_lock and migrates', () => {
    const { out } = migrateWithFaults(
      'v6.3',
      MIGRATE_SYNC,
      { 'migrate.folio_trylock': { probability: 0.5 } },
      4,
    );
    expect(out.rc).toBeGreaterThanOrEqual(0);
    expect(out.contents).toEqual([100, 101, 102, 103]);
  });

  it('v6.3 async: trylocks that always fail leave every folio where it was, intact', () => {
    const { out } = migrateWithFaults(
      'v6.3',
      MIGRATE_ASYNC,
      { 'migrate.folio_trylock': { probability: 1 } },
      3,
    );
    expect(out).toMatchObject({ rc: 3, succeeded: 0, nodes: [0, 0, 0], contents: [100, 101, 102] });
  });
});

describe('fault site migrate.extra_ref', () => {
  for (const variant of ['v6.2', 'v6.3', 'v6.11'] as const) {
    it(`${variant}: a transient reference at folio_migrate_mapping is -EAGAIN; the retry migrates`, () => {
      const { m, out } = migrateWithFaults(variant, MIGRATE_SYNC, {
        'migrate.extra_ref': { calls: [1] },
      });
      expect(m.rt.faults.get('migrate.extra_ref')!.injected).toBe(1);
      expect(out).toMatchObject({ rc: 0, succeeded: 1, nodes: [1], contents: [100] });
    });
  }

  it('v6.3: a page-cache folio with a transient reference fails the freeze, then moves', () => {
    const { m, out } = migrateWithFaults(
      'v6.3',
      MIGRATE_SYNC,
      { 'migrate.extra_ref': { calls: [1] } },
      2,
      true,
    );
    expect(m.rt.faults.get('migrate.extra_ref')!.injected).toBe(1);
    expect(out).toMatchObject({ rc: 0, succeeded: 2 });
  });

  it('v6.3: a reference held at every attempt fails the folio after the passes, mapped and intact', () => {
    const { out } = migrateWithFaults('v6.3', MIGRATE_SYNC, {
      'migrate.extra_ref': { probability: 1 },
    });
    expect(out).toMatchObject({ rc: 1, succeeded: 0, nodes: [0], contents: [100] });
  });
});
