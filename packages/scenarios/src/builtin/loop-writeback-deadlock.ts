import { MIGRATE_SYNC, MR_COMPACTION, SHMEM_AOPS } from '@mmsim/migrate';
import { fileIoTask } from '../actors/file-io.js';
import { LoopDevice } from '../actors/loop-device.js';
import { migrator } from '../actors/migrator.js';
import { nodeScan } from '../actors/selectors.js';
import { writebackWorker } from '../actors/writeback-worker.js';
import { bugHistory, type Scenario } from '../scenario.js';
import { historicNodePages } from './machine-size.js';
import { populateFiles } from './populate-files.js';

/** Parameters of `loopWritebackDeadlock`. */
export interface LoopWritebackDeadlockParams {
  /** Pages of the file on the loop device. Default 2. */
  readonly pages?: number;
  /** Compaction runs (each to the other node). Default 3. */
  readonly compactions?: number;
  /** write(2) calls of the writer. Default 8. */
  readonly writes?: number;
  /** Passes of the writeback worker. Default 2. */
  readonly writebacks?: number;
}

/**
 * `loop-writeback-deadlock`: Pengfei Xu, February 2023 (a syzkaller reproducer; the traces
 * are of a 6.2.0-rc4 kernel with the migrate_pages() batching series applied, the series
 * 6.3-rc1 then merged): the compaction sysctl path (`/proc/sys/vm/compact_memory`, MIGRATE_SYNC) sat in
 * `migrate_pages_batch` -> `folio_wait_writeback(B)` while holding folio A locked; the
 * loop worker waited for A's lock in `__filemap_get_folio`, because B's writeback goes to
 * a loop device backed by the tmpfs file A belongs to, and it ends only when the worker
 * has written A (Huang Ying's analysis). A second trace had the xfs writeback worker in
 * `write_cache_pages` -> `__folio_lock` behind the same batch.
 *
 * Here: a file on a loop device (backed by a tmpfs image, several file pages sharing an
 * image page, as small filesystem blocks do), a writer dirtying it with write(2), a
 * `write_cache_pages` worker starting writeback to the loop device, the loop worker, and
 * compaction (MIGRATE_SYNC, MR_COMPACTION) migrating the node's folios: image pages first
 * (lower pfns), then the file's. In `v6.3-rc1` a forced pass (pass > 2) takes A's lock,
 * then waits for B's writeback: a deadlock when the worker's next request for B needs A.
 * 6.3-rc3 waits for writeback only one folio at a time (2ef7dbb26990).
 */
export function loopWritebackDeadlock(params: LoopWritebackDeadlockParams = {}): Scenario {
  const pages = params.pages ?? 2;
  const compactions = params.compactions ?? 3;
  const writes = params.writes ?? 8;
  const writebacks = params.writebacks ?? 2;
  const indices = Array.from({ length: pages }, (_, i) => i);
  const imagePages = Math.ceil(pages / 2);
  // The files' words and the image's pages, made once: `createFile` copies the words into
  // each machine's files.
  const imageContent = Object.freeze(Array.from({ length: imagePages }, (_, i) => 2000 + i));
  const imageIndices = Object.freeze(Array.from({ length: imagePages }, (_, i) => i));
  const fileContent = Object.freeze(indices.map((i) => 4000 + i));
  return {
    name: 'loop-writeback-deadlock',
    title:
      'Pengfei Xu, Feb 2023: compaction waits for writeback to a loop device holding its backing folio',
    description:
      'A syzkaller reproducer (Pengfei Xu; traces of 6.2.0-rc4 with the batching series applied, ' +
      'as merged in 6.3-rc1): sync compaction holds folio A of a tmpfs ' +
      'file and waits in folio_wait_writeback for folio B of a filesystem on a loop device backed ' +
      "by that file; the loop worker must lock A to complete B's writeback (Huang Ying). " +
      'Deadlocks in v6.3-rc1 (and the RFC); fixed by the 6.3-rc3 series.',
    sources: [
      "Huang Ying 874jrg7kke.fsf@yhuang6-desk2.ccr.corp.intel.com (lore.kernel.org/linux-mm), on Pengfei Xu's syzkaller report",
      'V1 of the fix https://lkml.indiana.edu/hypermail/linux/kernel/2302.3/00510.html; V2 https://lkml.iu.edu/hypermail/linux/kernel/2303.0/02379.html',
      '6.3-rc3: fb3592c41a44, a21d2133215b, 2ef7dbb26990',
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
      const image = k.createFile('backing.img', { content: imageContent });
      const file = k.createFile('xfs-file', { content: fileContent });
      k.migrate.setAddressSpaceOperations(image, SHMEM_AOPS, { canWriteback: false });
      const loop = new LoopDevice(k, {
        name: 'loop0',
        cpu: 1,
        backing: image,
        map: (i) => Math.floor(i / 2),
      });
      return {
        setup: () =>
          populateFiles(k, [
            [image, imageIndices],
            [file, indices],
          ]),
        actors: [
          loop.actor(),
          fileIoTask(k, {
            name: 'writer',
            cpu: 3,
            file,
            pages,
            pattern: 'sequential',
            accesses: writes,
            writeRatio: 1,
          }),
          writebackWorker(k, {
            cpu: 2,
            file,
            indices,
            rounds: writebacks,
            target: loop,
          }),
          migrator(k, {
            name: 'compact_memory',
            cpu: 0,
            mode: MIGRATE_SYNC,
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
