import { folioGet } from '@mmsim/folio';
import { isolateFolios, newList, runAll, spawn } from '@mmsim/lru/test';
import { foliosOf, mapAnon, writePages } from '@mmsim/rmap/test';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  type MigrateMode,
  MR_COMPACTION,
  MR_SYSCALL,
  type VariantName,
} from '../src/index.js';
import { createMigrateMachine, migrateToNode } from '../src/testing/index.js';

/** NR_MAX_MIGRATE_PAGES_RETRY (mm/migrate.c, 6.3): the passes a -EAGAIN folio gets in all. */
const NR_MAX_MIGRATE_PAGES_RETRY = 10;

const CASES: Array<[VariantName, MigrateMode, string]> = [
  ['v6.3', MIGRATE_ASYNC, 'MIGRATE_ASYNC'],
  // 3 passes in the async batch of migrate_pages_sync, 7 alone.
  ['v6.3', MIGRATE_SYNC, 'MIGRATE_SYNC'],
  ['v6.2', MIGRATE_SYNC, 'MIGRATE_SYNC'],
];

describe('the per-reason cost table counts retries', () => {
  for (const [variant, mode, modeName] of CASES) {
    it(`${variant} ${modeName}: a folio with an extra reference is retried in every pass, under its reason only`, () => {
      const m = createMigrateMachine({ variant });
      const { vm, mem, core } = m;
      const mm = vm.createProcess('p');
      const addr = mapAnon(m, mm, 4);
      spawn(m, 'migrate', 0, function* (): KernelGen {
        yield* writePages(m, mm, addr, 4, (i) => 50 + i);
        const folios = foliosOf(m, mm, addr, 4);
        folioGet(mem, folios[1]!); // an extra reference: every move pass says -EAGAIN
        const list = newList(m);
        yield* isolateFolios(m, folios, list);
        const { rc } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL);
        expect(rc).toBe(1);
      });
      runAll(m);
      const rows = core.reasonCosts.table();
      expect(rows).toHaveLength(1);
      expect(rows[0]!.reason).toBe('syscall_or_cpuset');
      expect(rows[0]!.retries).toBe(NR_MAX_MIGRATE_PAGES_RETRY);
      expect(core.reasonCosts.retries[MR_COMPACTION]).toBe(0);
    });
  }

  it('a call where every folio migrates at the first try has no retries', () => {
    const m = createMigrateMachine({ variant: 'v6.3' });
    const { vm, core } = m;
    const mm = vm.createProcess('p');
    const addr = mapAnon(m, mm, 4);
    spawn(m, 'migrate', 0, function* (): KernelGen {
      yield* writePages(m, mm, addr, 4, (i) => 50 + i);
      const list = newList(m);
      yield* isolateFolios(m, foliosOf(m, mm, addr, 4), list);
      const { rc } = yield* migrateToNode(m, list, 1, MIGRATE_SYNC, MR_SYSCALL);
      expect(rc).toBe(0);
    });
    runAll(m);
    const [row] = core.reasonCosts.table();
    expect(row!.succeeded).toBe(4);
    expect(row!.retries).toBe(0);
  });
});
