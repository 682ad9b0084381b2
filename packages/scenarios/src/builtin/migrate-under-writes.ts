import { virtioBalloon } from '@mmsim/driver';
import { folioNrPages, pageContent, setPageContent } from '@mmsim/folio';
import { populateFile, touchPages } from '@mmsim/kernel';
import {
  BUFFER_AOPS,
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  MR_COMPACTION,
  MR_SYSCALL,
} from '@mmsim/migrate';
import { MAP_ANONYMOUS, MAP_SHARED, PAGE_SIZE } from '@mmsim/rmap';
import { MmsimError } from '@mmsim/runtime';
import { BlockDevice } from '../actors/block-device.js';
import { directIoTask } from '../actors/direct-io.js';
import { fileIoTask } from '../actors/file-io.js';
import { migrator, migratorStats } from '../actors/migrator.js';
import { readahead } from '../actors/readahead.js';
import {
  cachedFolios,
  concatSelectors,
  givenFolios,
  mappedFolios,
  nodeScan,
} from '../actors/selectors.js';
import { userTask } from '../actors/user-task.js';
import { writebackWorker } from '../actors/writeback-worker.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `migrateUnderWrites`. */
export interface MigrateUnderWritesParams {
  /** Accesses of each user task. Default 24. */
  readonly accesses?: number;
  /** move_pages rounds (each to the other node). Default 3. */
  readonly migrations?: number;
  /**
   * Compaction rounds (MIGRATE_ASYNC, order-0 destinations). The THP is a whole pageblock:
   * compaction passes over it in every variant (`compactionSkipsFolio`). Default 1.
   */
  readonly compactions?: number;
}

/**
 * `migrate-under-writes`: folios of every kind the lower packages model migrate back and
 * forth while tasks write and read them; no variant may deadlock, lose a write, leak a
 * reference or leave a migration entry.
 *
 * The kinds: private anonymous pages; a THP (a MADV_HUGEPAGE mapping, PMD-mapped); shmem
 * (MAP_SHARED | MAP_ANONYMOUS); page cache of a buffer-head filesystem (`ext4_aops`,
 * buffers attached by writeback) mapped shared and written through the mapping; page cache
 * of an iomap filesystem (`filemap_migrate_folio`) read and written with read(2) /
 * write(2); page cache being read ahead (locked until the disk completes the read); a
 * hugetlbfs folio (not mapped; mapped hugetlb is `hugetlb-mapped-migrate`); balloon pages
 * (non-LRU movable, `movable_operations`). Left out: KSM, swap cache, device-private
 * memory (not modelled below); mapped hugetlb is `hugetlb-mapped-migrate`'s, PMD-mapped
 * shmem THPs migrated whole are `shmem-thp-migrate`'s.
 *
 * Actors: four user tasks (stores and loads through the page tables: anon, THP, shmem, the
 * ext4 mapping), an O_DIRECT reader pinning anon pages for its DMA, read(2)/write(2) tasks
 * on the iomap file and on the mapped ext4 file (their transient references make
 * migrations fail and be undone), a `write_cache_pages` worker with a disk, a readahead
 * task, move_pages(2) (MIGRATE_SYNC) over all of it, and compaction (MIGRATE_ASYNC,
 * order-0 destinations; like the kernel's, it does not isolate the THP).
 */
export function migrateUnderWrites(params: MigrateUnderWritesParams = {}): Scenario {
  const accesses = params.accesses ?? 24;
  const migrations = params.migrations ?? 3;
  const compactions = params.compactions ?? 1;
  const ANON = 8;
  const THP = 512;
  const THP_TOUCHED = 8;
  const SHM = 4;
  const FILE = 4;
  const BALLOON = 2;
  const HUGE_WORDS = 4;
  const fileIndices = Array.from({ length: FILE }, (_, i) => i);
  return {
    name: 'migrate-under-writes',
    title: 'Folios of every kind migrate back and forth under writers and faulting readers',
    description:
      'Anonymous pages, a THP, shmem, buffer-head and iomap page cache, pages under readahead, ' +
      'a hugetlbfs folio and balloon pages migrate between the nodes (move_pages MIGRATE_SYNC ' +
      'and compaction MIGRATE_ASYNC) while user tasks store and load through the page tables, ' +
      'a task calls read(2)/write(2), writeback runs and readahead reads. In every variant: no ' +
      'deadlock, no lost write, no leaked reference, no migration entry left.',
    sources: ['torvalds/linux v6.3 mm/migrate.c', 'docs/model-vs-kernel.md#page-contents'],
    config: {
      // Sized to what the scenario uses (every frame is walked by the memory invariants and
      // allocated in each instance's memory map). Node 0: the zero page and the small folios
      // in its first pageblock, the hugetlb page and the THP in the next two. Node 1 (at pfn
      // 2048, nodes start on MAX_ORDER boundaries): the hugetlb page, a pageblock for the
      // THP and 64 frames, room for every other folio (26) without breaking the THP's block,
      // and 576 free frames in all for the 538 pages when a failed THP allocation splits it.
      // No watermarks, so schedules, figures and tokens are those of the 2,048-page nodes
      // (test/migrate-under-writes-size.test.ts).
      nodes: [
        { pages: 1536, hugetlbPages: 1 },
        { pages: 1088, hugetlbPages: 1 },
      ],
      cpusPerNode: 3,
      variant: 'v6.3',
      dependencyChecking: true,
      zeroPage: false,
    },
    history: bugHistory({}),
    build(k) {
      const mm = k.createProcess('app');
      const anon = k.vm.mmap(mm, { length: ANON * PAGE_SIZE });
      const thp = k.vm.mmap(mm, { length: THP * PAGE_SIZE, hugepage: true });
      const shm = k.vm.mmap(mm, { length: SHM * PAGE_SIZE, flags: MAP_SHARED | MAP_ANONYMOUS });
      const ext4 = k.createFile('ext4-data', { content: fileIndices.map((i) => 100 + i) });
      k.migrate.setAddressSpaceOperations(ext4, BUFFER_AOPS);
      const fmap = k.vm.mmap(mm, { length: FILE * PAGE_SIZE, flags: MAP_SHARED, file: ext4 });
      const xfs = k.createFile('xfs-data', { content: fileIndices.map((i) => 200 + i) });
      const ra = k.createFile('ra-data', { content: fileIndices.map((i) => 300 + i) });
      const hugetlbfs = k.createFile('hugetlbfs-data');
      const balloon = virtioBalloon.attach(k, { name: 'balloon' });
      const disk = new BlockDevice(k, { name: 'sda', cpu: 5, producers: 2 });
      const moved = migratorStats();
      const compacted = migratorStats();
      const cpus = k.rt.cpus.length;
      if (cpus < 6) {
        throw new MmsimError('INVALID_CONFIG', 'migrate-under-writes needs at least 6 CPUs');
      }
      return {
        *setup() {
          yield* touchPages(k, mm, anon, ANON, (i) => 10 + i);
          yield* touchPages(k, mm, thp, THP_TOUCHED, (i) => 20 + i);
          yield* touchPages(k, mm, shm, SHM, (i) => 30 + i);
          yield* touchPages(k, mm, fmap, FILE, (i) => 40 + i);
          yield* populateFile(k, xfs, fileIndices);
          // A hugetlbfs page-cache folio (hugetlb_add_to_page_cache), words 50.., node 0.
          const huge = k.migrate.hugetlbAllocActive(0, { thisNode: true });
          if (huge < 0) throw new MmsimError('INVALID_CONFIG', 'no hugetlb page on node 0');
          k.vm.hugetlbAddToPageCache(hugetlbfs, huge, 0); // sets its mapping and index
          const step = folioNrPages(k.mem, huge) / HUGE_WORDS;
          for (let w = 0; w < HUGE_WORDS; w++) {
            const page = w * step;
            setPageContent(k.mem, huge + page, 50 + w);
            k.shadow.wrote(
              {
                kind: 'custom',
                name: `hugetlbfs-data[0]+${page}`,
                read: () => {
                  const f = hugetlbfs.lookup(0);
                  return f === undefined ? null : pageContent(k.mem, f + page);
                },
              },
              50 + w,
              'init',
            );
          }
          balloon.populate(0, BALLOON); // words 60.. (BALLOON_WORD_BASE)
        },
        actors: [
          disk.actor(),
          userTask(k, { name: 'anon-user', cpu: 1, mm, addr: anon, pages: ANON, accesses }),
          directIoTask(k, { cpu: 2, mm, addr: anon, pages: ANON, reads: Math.ceil(accesses / 4) }),
          userTask(k, { name: 'thp-user', cpu: 2, mm, addr: thp, pages: THP_TOUCHED, accesses }),
          userTask(k, { name: 'shm-user', cpu: 3, mm, addr: shm, pages: SHM, accesses }),
          userTask(k, { name: 'map-user', cpu: 4, mm, addr: fmap, pages: FILE, accesses }),
          fileIoTask(k, { cpu: 4, file: xfs, pages: FILE, accesses }),
          fileIoTask(k, { name: 'ext4-io', cpu: 1, file: ext4, pages: FILE, accesses }),
          writebackWorker(k, {
            cpu: 5,
            file: ext4,
            indices: fileIndices,
            rounds: 2,
            target: disk,
            buffersPerPage: 1,
          }),
          readahead(k, { cpu: 3, file: ra, indices: fileIndices, disk }),
          migrator(k, {
            name: 'move_pages',
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: migrations,
            stats: moved,
            select: concatSelectors(
              mappedFolios(k, mm, anon, ANON),
              mappedFolios(k, mm, thp, THP_TOUCHED),
              mappedFolios(k, mm, shm, SHM),
              mappedFolios(k, mm, fmap, FILE),
              cachedFolios(k, xfs, fileIndices),
              cachedFolios(k, ra, fileIndices),
              cachedFolios(k, hugetlbfs, [0]),
              givenFolios(() => balloon.host.pages),
            ),
          }),
          migrator(k, {
            name: 'kcompactd',
            cpu: 3,
            mode: MIGRATE_ASYNC,
            reason: MR_COMPACTION,
            rounds: compactions,
            stats: compacted,
            style: 'compaction',
            targets: [0],
            skipOnTarget: false,
            select: nodeScan(k, 0),
          }),
        ],
        figures: () => ({
          movePagesMigrated: moved.pagesMigrated,
          movePagesFailed: moved.pagesFailed,
          compactionMigrated: compacted.pagesMigrated,
          compactionFailed: compacted.pagesFailed,
          readsChecked: k.shadow.readsChecked,
        }),
      };
    },
  };
}
