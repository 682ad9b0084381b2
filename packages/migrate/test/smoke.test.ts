import { folioNid } from '@mmsim/folio';
import { isolateFolios, newList, runAll, spawn } from '@mmsim/lru/test';
import { PAGE_SIZE } from '@mmsim/rmap';
import { foliosOf, mapAnon, writePages } from '@mmsim/rmap/test';
import { describe, expect, it } from 'vitest';
import { MIGRATE_ASYNC, MIGRATE_SYNC, MR_SYSCALL } from '../src/index.js';
import {
  createMigrateMachine as buildMachine,
  assertQuiescent as expectQuiescent,
  migrateToNode,
} from '../src/testing/index.js';

describe('smoke', () => {
  for (const variant of ['v6.2', 'rfc-2022', 'v6.3-rc1', 'v6.3', 'v6.10', 'v6.11'] as const) {
    for (const mode of [MIGRATE_ASYNC, MIGRATE_SYNC] as const) {
      it(`${variant} mode ${mode}: 16 anon pages move to node 1`, () => {
        const m = buildMachine({ variant });
        const mm = m.vm.createProcess('p');
        const addr = mapAnon(m, mm, 16);
        spawn(m, 'main', 0, function* () {
          yield* writePages(m, mm, addr, 16, (i) => 100 + i);
          const folios = foliosOf(m, mm, addr, 16);
          expect(folios.every((f) => folioNid(m.mem, f) === 0)).toBe(true);
          const list = newList(m);
          expect(yield* isolateFolios(m, folios, list)).toBe(16);
          const { rc, stats } = yield* migrateToNode(m, list, 1, mode, MR_SYSCALL);
          expect(rc).toBe(0);
          expect(stats.nrSucceeded).toBe(16);
          expect(list.isEmpty()).toBe(true);
          const after = foliosOf(m, mm, addr, 16);
          expect(after.every((f) => folioNid(m.mem, f) === 1)).toBe(true);
          for (let i = 0; i < 16; i++) {
            expect(yield* m.vm.userRead(mm, addr + i * PAGE_SIZE)).toBe(100 + i);
          }
        });
        runAll(m);
        expectQuiescent(m);
      });
    }
  }
});
