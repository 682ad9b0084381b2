import { BLOCKDEV_AOPS, MIGRATE_SYNC_LIGHT, MR_COMPACTION, SHMEM_AOPS } from '@mmsim/migrate';
import { bufferWriter } from '../actors/buffer-writer.js';
import { LoopDevice } from '../actors/loop-device.js';
import { migrator } from '../actors/migrator.js';
import { nodeScan } from '../actors/selectors.js';
import { bugHistory, type Scenario } from '../scenario.js';
import { historicNodePages } from './machine-size.js';
import { populateFiles } from './populate-files.js';

/** Parameters of `loopBhDeadlock`. */
export interface LoopBhDeadlockParams {
  /** Pages of the loop device (and of its backing file). Default 2. */
  readonly pages?: number;
  /** Compaction runs (each to the other node). Default 3. */
  readonly compactions?: number;
  /** Passes of the filesystem over its metadata buffers. Default 2. */
  readonly writes?: number;
}

/**
 * `loop-bh-deadlock`: Hugh Dickins, February 2023 (next-20230217, with the 6.3-rc1
 * batching): ext4 on /dev/loop0 on tmpfs; kcompactd or khugepaged compaction sat forever
 * in `buffer_migrate_folio_norefs` -> `__lock_buffer` while holding a batch of folio
 * locks, and other tasks piled up behind those folio locks. Jan Kara's explanation: the
 * filesystem locks a buffer of the loop device's page cache and submits it; the loop
 * worker writes the data into the backing file, which needs `folio_lock` of the backing
 * folio; the buffer is unlocked only when that write is done. A batch that holds the
 * backing folio locked while it sleeps on the buffer lock closes the cycle.
 *
 * Here: a loop device whose page cache (`def_blk_aops`: `buffer_migrate_folio_norefs`)
 * has one buffer per page, backed by a tmpfs file (`shmem_aops`); a jbd2-like writer
 * locks those buffers and submits them; the loop worker serves them; kcompactd-style
 * compaction (MIGRATE_SYNC_LIGHT, MR_COMPACTION) scans the node and migrates everything on
 * it, loop device pages and backing pages in one list. In `v6.3-rc1` the batch locks all
 * of them, then sleeps in `lock_buffer` during the move phase: a deadlock when the buffer
 * is the loop worker's and the worker needs a backing folio of the batch. Fixed in 6.3-rc3
 * (fb3592c41a44 + 2ef7dbb26990): synchronous modes only batch after an ASYNC pass (buffers
 * trylocked), then go one folio at a time.
 */
export function loopBhDeadlock(params: LoopBhDeadlockParams = {}): Scenario {
  const pages = params.pages ?? 2;
  const compactions = params.compactions ?? 3;
  const writes = params.writes ?? 2;
  const indices = Array.from({ length: pages }, (_, i) => i);
  // The files' words, made once: `createFile` copies them into each machine's files.
  const backingContent = Object.freeze(indices.map((i) => 2000 + i));
  const devContent = Object.freeze(indices.map((i) => 3000 + i));
  return {
    name: 'loop-bh-deadlock',
    title: 'Hugh Dickins, Feb 2023: compaction sleeps on a loop-device buffer lock holding a batch',
    description:
      'ext4 on a loop device on tmpfs (Hugh Dickins, next-20230217). A sync compaction batch of ' +
      '6.3-rc1 holds the locks of the folios it unmapped, backing tmpfs folios among them, and ' +
      'sleeps in buffer_migrate_folio_norefs -> __lock_buffer on a buffer of the loop device that ' +
      'the loop worker will unlock only after it has locked and written the backing folio ' +
      '(Jan Kara). Deadlocks in v6.3-rc1 (and the RFC); fixed by the 6.3-rc3 series.',
    sources: [
      'Hugh Dickins 87a6c8c-c5c1-67dc-1e32-eb30831d6e3d@google.com (lore.kernel.org/linux-mm)',
      'Jan Kara 20230227110614.dngdub2j3exr6dfp@quack3 (lore.kernel.org/linux-mm)',
      '6.3-rc3: fb3592c41a44 "migrate_pages: fix deadlock in batched migration", 2ef7dbb26990 "migrate_pages: try migrate in batch asynchronously firstly"',
      'docs/locking.md#cross-dependencies',
    ],
    config: {
      nodes: [{ pages: historicNodePages(pages) }, { pages: historicNodePages(pages) }],
      cpusPerNode: 2,
      variant: 'v6.3-rc1',
      dependencyChecking: true,
    },
    history: bugHistory({ deadlocksIn: ['v6.3-rc1', 'rfc-2022'] }),
    build(k) {
      const backing = k.createFile('backing.img', { content: backingContent });
      const dev = k.createFile('loop0', { content: devContent });
      k.migrate.setAddressSpaceOperations(backing, SHMEM_AOPS, { canWriteback: false });
      k.migrate.setAddressSpaceOperations(dev, BLOCKDEV_AOPS);
      const loop = new LoopDevice(k, { name: 'loop0', cpu: 1, backing, dev });
      return {
        setup: () =>
          populateFiles(k, [
            [backing, indices],
            [dev, indices, { buffersPerPage: 1 }],
          ]),
        actors: [
          loop.actor(),
          bufferWriter(k, { cpu: 2, loop, indices, rounds: writes }),
          migrator(k, {
            name: 'kcompactd0',
            cpu: 0,
            mode: MIGRATE_SYNC_LIGHT,
            reason: MR_COMPACTION,
            rounds: compactions,
            style: 'compaction',
            select: nodeScan(k, (_round, target) => 1 - target),
          }),
        ],
      };
    },
  };
}
