import { type Actor, populateFile, touchPages } from '@mmsim/kernel';
import { MIGRATE_ASYNC, MIGRATE_SYNC, MR_COMPACTION, MR_SYSCALL } from '@mmsim/migrate';
import { MAP_ANONYMOUS, MAP_SHARED, PAGE_SIZE } from '@mmsim/rmap';
import { migrator } from '../src/actors/migrator.js';
import { cachedFolios, concatSelectors, mappedFolios, nodeScan } from '../src/actors/selectors.js';
import { userTask } from '../src/actors/user-task.js';
import type { Scenario } from '../src/scenario.js';

/**
 * A test fixture: the operations that run concurrently with migration, all at once, so
 * that the invariants are checked in their intermediate states. A parent has private
 * anonymous pages, a THP, a shared file mapping and shmem; a task forks children that
 * write (COW), read, munmap part of their memory (a VMA split, a PMD split) and exit; a
 * task munmaps half of the parent's THP; a task truncates an unmapped file whose cached
 * folios are being migrated; user tasks load and store; move_pages migrates everything
 * (MIGRATE_SYNC) and compaction (MIGRATE_ASYNC, order-0 destinations) splits the THP.
 */
export function concurrentOpsScenario(): Scenario {
  return {
    name: 'concurrent-ops',
    title: 'fork, munmap, exit, truncate, COW and THP splits while pages migrate',
    description: 'The operations that run concurrently with migration, for the invariants.',
    sources: ['torvalds/linux v6.3 mm/migrate.c kernel/fork.c mm/mmap.c mm/truncate.c'],
    config: {
      nodes: [{ pages: 1024 }, { pages: 1024 }],
      cpusPerNode: 3,
      variant: 'v6.3',
      zeroPage: true,
    },
    build(k) {
      const parent = k.createProcess('parent');
      const anon = k.vm.mmap(parent, { length: 4 * PAGE_SIZE });
      const thp = k.vm.mmap(parent, { length: 512 * PAGE_SIZE, hugepage: true });
      const file = k.createFile('f', { content: [1, 2] });
      const fmap = k.vm.mmap(parent, { length: 2 * PAGE_SIZE, flags: MAP_SHARED, file });
      const shm = k.vm.mmap(parent, { length: 2 * PAGE_SIZE, flags: MAP_SHARED | MAP_ANONYMOUS });
      const scratch = k.createFile('scratch', { content: [7, 8] });
      const truncater: Actor = {
        name: 'truncate',
        cpu: 1,
        models: 'truncate_inode_pages of an unmapped file',
        *body() {
          for (let i = 0; i < 4; i++) yield;
          yield* k.vm.truncate(scratch);
          // The data is gone with the pages: what a read finds now is what was "written".
          for (const index of [0, 1]) {
            const where = { kind: 'file', file: scratch, index } as const;
            k.shadow.wrote(where, k.shadow.current(where) ?? 0, 'truncate');
          }
        },
      };
      const forker: Actor = {
        name: 'forker',
        cpu: 2,
        models: 'fork, child touches and exits',
        *body() {
          for (let r = 0; r < 2; r++) {
            const child = yield* k.vm.fork(parent, `child${r}`);
            yield* k.vm.userWrite(child, anon, 999);
            yield;
            yield* k.vm.userRead(child, fmap);
            yield* k.vm.userRead(child, thp);
            yield* k.vm.userWrite(child, thp + PAGE_SIZE, 5);
            yield;
            yield* k.vm.munmap(child, anon, PAGE_SIZE);
            yield* k.vm.munmap(child, thp, 8 * PAGE_SIZE);
            yield;
            yield* k.vm.exit(child);
          }
        },
      };
      const unmapper: Actor = {
        name: 'unmapper',
        cpu: 4,
        models: 'munmap part of a THP',
        *body() {
          for (let i = 0; i < 6; i++) yield;
          yield* k.vm.munmap(parent, thp + 256 * PAGE_SIZE, 256 * PAGE_SIZE);
        },
      };
      return {
        *setup() {
          yield* touchPages(k, parent, anon, 4, (i) => 10 + i);
          for (let i = 0; i < 4; i++) yield* k.vm.userWrite(parent, thp + i * PAGE_SIZE, 20 + i);
          yield* touchPages(k, parent, fmap, 2, (i) => 30 + i);
          yield* touchPages(k, parent, shm, 2, (i) => 40 + i);
          yield* populateFile(k, scratch, [0, 1]);
        },
        actors: [
          userTask(k, { name: 'anon-user', cpu: 1, mm: parent, addr: anon, pages: 4, accesses: 8 }),
          userTask(k, {
            name: 'shared-user',
            cpu: 3,
            mm: parent,
            addr: fmap,
            pages: 2,
            accesses: 6,
          }),
          forker,
          unmapper,
          truncater,
          migrator(k, {
            name: 'move_pages',
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: 2,
            select: concatSelectors(
              mappedFolios(k, parent, anon, 4),
              mappedFolios(k, parent, thp, 4),
              mappedFolios(k, parent, fmap, 2),
              mappedFolios(k, parent, shm, 2),
              cachedFolios(k, scratch, [0, 1]),
            ),
          }),
          migrator(k, {
            name: 'kcompactd',
            cpu: 5,
            mode: MIGRATE_ASYNC,
            reason: MR_COMPACTION,
            rounds: 1,
            style: 'compaction',
            targets: [0],
            skipOnTarget: false,
            select: nodeScan(k, 0),
          }),
        ],
      };
    },
  };
}
