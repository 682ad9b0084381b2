import { type Actor, touchPages } from '@mmsim/kernel';
import { BUFFER_AOPS, MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import { MAP_ANONYMOUS, MAP_SHARED, type MmView, PAGE_SIZE } from '@mmsim/rmap';
import { MmsimError } from '@mmsim/runtime';
import { migrator, migratorStats } from '../src/actors/migrator.js';
import { concatSelectors, mappedFolios } from '../src/actors/selectors.js';
import { userTask } from '../src/actors/user-task.js';
import type { Scenario } from '../src/scenario.js';

/** Parameters of `sharedPageScenario`. */
export interface SharedPageParams {
  /** Forked children besides the parent. Default 3. */
  readonly children?: number;
  /** Accesses of each user task (half stores). Default 6. */
  readonly accesses?: number;
  /** move_pages rounds, each to the other node. Default 3. */
  readonly migrations?: number;
  /** The file's address-space operations: `'filemap'` (filemap_migrate_folio) or ext4's buffer_migrate_folio. Default `'filemap'`. */
  readonly aops?: 'filemap' | 'buffer';
}

/**
 * A test fixture: one page of a regular file (MAP_SHARED) and one shmem page
 * (MAP_SHARED | MAP_ANONYMOUS) mapped by a parent and its forked children. Every process
 * has a task that loads and stores both pages through its own page tables, while
 * move_pages (MIGRATE_SYNC) moves both folios back and forth between the nodes. So
 * remove_migration_ptes(src, dst) walks four VMAs per folio, interleaved with faults,
 * migration_entry_wait and the other migration steps: the states in which src has lost
 * its mapping but migration entries to it remain.
 */
export function sharedPageScenario(params: SharedPageParams = {}): Scenario {
  const children = params.children ?? 3;
  const accesses = params.accesses ?? 6;
  const migrations = params.migrations ?? 3;
  return {
    name: 'shared-page',
    title: 'A shared file page and a shmem page, mapped by a parent and forked children, migrate',
    description:
      'move_pages moves a MAP_SHARED file page and a shmem page between the nodes while the ' +
      'parent and its forked children load and store them.',
    sources: ['torvalds/linux v6.3 mm/migrate.c'],
    config: {
      nodes: [{ pages: 64 }, { pages: 64 }],
      cpusPerNode: 2,
      variant: 'v6.3',
      zeroPage: false,
    },
    build(k) {
      const parent = k.createProcess('parent');
      const file = k.createFile('shared-data', { content: [7] });
      if (params.aops === 'buffer') k.migrate.setAddressSpaceOperations(file, BUFFER_AOPS);
      const fmap = k.vm.mmap(parent, { length: PAGE_SIZE, flags: MAP_SHARED, file });
      // Right after the file page, so one task's two-page area covers both.
      const shm = k.vm.mmap(parent, {
        length: PAGE_SIZE,
        addr: fmap + PAGE_SIZE,
        flags: MAP_SHARED | MAP_ANONYMOUS,
      });
      if (shm !== fmap + PAGE_SIZE) {
        throw new MmsimError(
          'INVALID_CONFIG',
          'shared-page: the shmem page is not next to the file page',
        );
      }
      const mms: MmView[] = [parent];
      const cpus = k.rt.cpus.length;
      const moved = migratorStats();
      return {
        *setup() {
          yield* touchPages(k, parent, fmap, 1, () => 11);
          yield* touchPages(k, parent, shm, 1, () => 12);
          for (let c = 0; c < children; c++) {
            const child = yield* k.vm.fork(parent, `child${c}`);
            // The child faults the file page in (dup_mmap copies no PTEs of a VMA without
            // an anon_vma), so every process maps both folios before the migrations start.
            yield* k.vm.userRead(child, fmap);
            yield* k.vm.userRead(child, shm);
            mms.push(child);
          }
        },
        actors: [
          // The children exist once the set-up ran, which is when the actors start.
          ...Array.from({ length: children + 1 }, (_, i): Actor => {
            const name = i === 0 ? 'parent-user' : `child${i - 1}-user`;
            const cpu = (i + 1) % cpus;
            return {
              name,
              cpu,
              models: 'a thread of the parent or of a forked child touching both shared pages',
              *body(task) {
                const mm = mms[i] as MmView;
                const user = userTask(k, { name, cpu, mm, addr: fmap, pages: 2, accesses });
                yield* user.body(task);
              },
            };
          }),
          migrator(k, {
            name: 'move_pages',
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: migrations,
            stats: moved,
            select: concatSelectors(
              mappedFolios(k, parent, fmap, 1),
              mappedFolios(k, parent, shm, 1),
            ),
          }),
        ],
        figures: () => ({
          pagesMigrated: moved.pagesMigrated,
          pagesFailed: moved.pagesFailed,
          readsChecked: k.shadow.readsChecked,
        }),
      };
    },
  };
}
