import {
  type Folio,
  type FolioList,
  folioMapping,
  folioNrPages,
  folioRefCount,
  folioTestMovable,
} from '@mmsim/folio';
import { EOPNOTSUPP, type KernelGen, tracedFunction } from '@mmsim/runtime';
import { folioExpectedRefs } from './folio-migrate-mapping.js';
import type { MigrateEnv } from './migrate-env.js';
import type { MigrateReason } from './reasons.js';

/**
 * The batch-copy phase of `migrate_pages_batch()` in the variants with `copyStrategy:
 * 'batch-precopy'` (Shivank Garg, "Accelerate page migration with batch copying and
 * hardware offload", RFC v6 of 2026-06-30, patch 2/5 "mm/migrate: add batch-copy path in
 * migrate_pages_batch" and patch 3/5, the registration): after the batch's one TLB flush
 * and before the move passes.
 *
 * When a provider is registered and takes `reason` (`migrate_should_offload`), the
 * unmapped folios are sorted: a folio is batch-eligible when it is not a movable_ops page
 * and its reference count is the expected one (`folio_expected_refs`: nobody but the
 * isolation and the page cache holds it, so nobody can be writing to it behind the
 * migration's back: a pinned folio under direct I/O is not). The eligible (src, dst) pairs
 * go to the provider in one call, inside `migrate_offload_srcu`'s read side; the provider
 * marks each dst it copied FOLIO_CONTENT_COPIED. The move phase then skips the copy of a
 * marked folio (consuming the mark on its first attempt, so a -EAGAIN retry copies again)
 * and copies the others on the CPU, as in every other variant; the reference freeze in
 * `folio_migrate_mapping` still decides whether each folio moves.
 *
 * The kernel splits the batch into two list pairs (`unmap_batch`/`dst_batch` and
 * `unmap_single`/`dst_single`) and moves the first pair first; the model hands the
 * eligible pairs over in arrays built per batch and keeps one list, so the move phase
 * keeps the unmap order (docs/model-vs-kernel.md#batch-copy).
 */
export const migrateFoliosBatchCopy = tracedFunction(
  'migrate_folios_batch_copy',
  migrateFoliosBatchCopyBody,
);
function* migrateFoliosBatchCopyBody(
  env: MigrateEnv,
  unmapFolios: FolioList,
  dstFolios: FolioList,
  reason: MigrateReason,
): KernelGen {
  const offload = env.copyOffload;
  if (!offload.shouldOffload(reason)) return;
  const mem = env.mem;
  const checkRefs = offload.precopyChecksRefs;
  const srcs: Folio[] = [];
  const dsts: Folio[] = [];
  let nrPages = 0;
  let dst = dstFolios.first();
  for (const src of unmapFolios) {
    if (
      !folioTestMovable(mem, src) &&
      (!checkRefs ||
        folioRefCount(mem, src) === folioExpectedRefs(env.services, folioMapping(mem, src), src))
    ) {
      srcs.push(src);
      dsts.push(dst);
      nrPages += folioNrPages(mem, src);
    }
    dst = dstFolios.next(dst);
  }
  if (srcs.length === 0) return;
  const srcu = offload.srcu;
  const idx = srcu.readLock();
  const m = offload.active;
  let rc = -EOPNOTSUPP;
  if (m !== null) {
    offload.batches++;
    rc = yield* m.offloadCopy(offload, dsts, srcs, srcs.length, nrPages);
  }
  srcu.readUnlock(idx);
  if (rc === -EOPNOTSUPP) offload.declined++;
}
