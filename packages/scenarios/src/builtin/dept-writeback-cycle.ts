import { populateFile } from '@mmsim/kernel';
import { BLOCKDEV_AOPS, BUFFER_AOPS, MIGRATE_SYNC, MR_COMPACTION } from '@mmsim/migrate';
import { Ext4EndIo } from '../actors/ext4-end-io.js';
import { fileIoTask } from '../actors/file-io.js';
import { migrator, migratorStats } from '../actors/migrator.js';
import { nodeScan } from '../actors/selectors.js';
import { writebackWorker } from '../actors/writeback-worker.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `deptWritebackCycle`. */
export interface DeptWritebackCycleParams {
  /** Pages of the ext4 data file. Default 2. */
  readonly pages?: number;
  /** Whole-node compaction runs (MIGRATE_SYNC), each to the other node. Default 3. */
  readonly compactions?: number;
  /** write(2) calls dirtying the data file. Default 6. */
  readonly writes?: number;
  /** Passes of the writeback worker. Default 2. */
  readonly writebacks?: number;
}

/**
 * `dept-writeback-cycle`: the 2025 DEPT report (Byungchul Park's dependency tracker, which
 * tracks PG_locked and PG_writeback waits as lockdep does not): `migrate_folio_unmap`
 * holds a folio locked while it waits for that folio's writeback (`folio_wait_writeback`
 * in a sync mode), and ext4's writeback completion into unwritten extents
 * (`ext4_end_io_rsv_work` -> extent conversion) waits for the lock of a block-device
 * folio holding the extent block before it can end the data folio's writeback. DEPT
 * names every folio lock by one class, so it reports PG_locked -> PG_writeback ->
 * PG_locked as a cycle.
 *
 * The model's answer, per folio: the cycle closes only if the migrator holds the *bdev*
 * folio locked while it waits for the *data* folio's writeback. `migrate_folio_unmap`
 * waits for the writeback of the folio it has just locked; holding another folio's lock
 * at that moment needs a batch that waits for writeback in a sync pass: the September 2022
 * RFC and 6.3-rc1 (their forced passes wait while earlier folios of the batch stay locked
 * and unmapped). There the model finds a real deadlock (bdev folio locked in the batch,
 * data folio's writeback waited for, its completion waiting for the bdev folio). In 6.2
 * (one folio at a time) and from 6.3-rc3 on (the batch is MIGRATE_ASYNC, which never waits
 * for writeback; the sync pass takes one folio at a time: 2ef7dbb26990) the migrator holds
 * only the data folio's lock while it waits, and the completion wants a different folio:
 * no cycle. So the report, against a 2025 kernel (v6.11 and later here), is a false
 * positive of DEPT's class-wide folio lock; the scenario is clean in v6.2, v6.3, v6.10
 * and v6.11, and deadlocks in rfc-2022 and v6.3-rc1, where it is the same trap as Pengfei
 * Xu's loop-writeback deadlock with ext4's conversion worker in place of the loop worker.
 *
 * Here: an ext4 block device's page cache (`BLOCKDEV_AOPS`) with the extent block, cached
 * first (lower pfn), and an ext4 data file (`ext4_aops`, buffer heads); a writer dirties
 * the data, a `write_cache_pages` worker starts its writeback into unwritten extents, the
 * conversion worker ends it after locking the extent block's folio, and compaction of the
 * whole node (MIGRATE_SYNC) migrates the bdev folio, then the data folios.
 */
export function deptWritebackCycle(params: DeptWritebackCycleParams = {}): Scenario {
  const pages = params.pages ?? 2;
  const compactions = params.compactions ?? 3;
  const writes = params.writes ?? 6;
  const writebacks = params.writebacks ?? 2;
  const indices = Array.from({ length: pages }, (_, i) => i);
  return {
    name: 'dept-writeback-cycle',
    title:
      'DEPT, 2025: migration waits for writeback under a folio lock while ext4 end_io waits for a bdev folio lock',
    description:
      'The 2025 DEPT report (PG_locked -> PG_writeback -> PG_locked, one class for every folio ' +
      'lock): compaction (MIGRATE_SYNC) waits in migrate_folio_unmap for a data folio under ' +
      "writeback; ext4's unwritten-extent conversion locks the bdev folio of the extent block " +
      'before ending that writeback. Per folio the cycle closes only where a batch holds the bdev ' +
      'folio while waiting for writeback: deadlocks in rfc-2022 and v6.3-rc1; in v6.2, v6.3, ' +
      'v6.10 and v6.11 (the kernels DEPT ran on are after 6.3) the migrator holds only the ' +
      "waited-for folio's lock: a false positive of DEPT, clean here.",
    sources: [
      'DEPT (Byungchul Park), "dept: Add documentation for Dept", 20240306085513.41482-28-byungchul@sk.com; the 2025 report on migrate_folio_unmap / ext4 end_io (not located in the archives searched, see docs/model-vs-kernel.md#dept-writeback-cycle)',
      '6.3-rc3 2ef7dbb26990 (sync migration one folio at a time, no writeback wait inside a batch)',
      'fs/ext4/page-io.c ext4_end_bio / ext4_end_io_rsv_work / ext4_release_io_end (writeback ends after the extent conversion)',
      'docs/model-vs-kernel.md#dept-writeback-cycle',
    ],
    config: {
      nodes: [{ pages: 1024 }, { pages: 1024 }],
      cpusPerNode: 2,
      variant: 'v6.11',
      dependencyChecking: true,
    },
    history: bugHistory({ deadlocksIn: ['rfc-2022', 'v6.3-rc1'] }),
    build(k) {
      const bdev = k.createFile('ext4-bdev', { content: [7000] });
      k.migrate.setAddressSpaceOperations(bdev, BLOCKDEV_AOPS);
      const data = k.createFile('ext4-data', { content: indices.map((i) => 7100 + i) });
      k.migrate.setAddressSpaceOperations(data, BUFFER_AOPS);
      const endIo = new Ext4EndIo(k, { cpu: 1, bdev, metaIndex: 0 });
      const compacted = migratorStats();
      return {
        *setup() {
          yield* populateFile(k, bdev, [0]);
          yield* populateFile(k, data, indices);
        },
        actors: [
          endIo.actor(),
          fileIoTask(k, {
            name: 'writer',
            cpu: 3,
            file: data,
            pages,
            pattern: 'sequential',
            accesses: writes,
            writeRatio: 1,
          }),
          writebackWorker(k, {
            cpu: 2,
            file: data,
            indices,
            rounds: writebacks,
            target: endIo,
            buffersPerPage: 1,
          }),
          migrator(k, {
            name: 'compact_memory',
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_COMPACTION,
            rounds: compactions,
            style: 'compaction',
            select: nodeScan(k, (_round, target) => 1 - target),
            stats: compacted,
          }),
        ],
        figures: () => ({
          conversions: endIo.completed,
          compactionMigrated: compacted.pagesMigrated,
          compactionFailed: compacted.pagesFailed,
        }),
      };
    },
  };
}
