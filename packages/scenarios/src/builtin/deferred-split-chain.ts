import { HPAGE_PMD_NR } from '@mmsim/folio';
import { touchPages } from '@mmsim/kernel';
import { PAGE_SIZE } from '@mmsim/rmap';
import { numaHintFault } from '../actors/numa-hint-fault.js';
import {
  isolatedPutBack,
  MigrateCallLedger,
  migratePagesSuccessEmpty,
} from '../invariants/migrate-calls.js';
import { bugHistory, type Scenario } from '../scenario.js';

/** Parameters of `deferredSplitChain`. */
export interface DeferredSplitChainParams {
  /**
   * Free pages of node 1, the target: room for one THP but not for two (the NUMA-hinting
   * faults check for room for the whole folio before they isolate it). Default 768.
   */
  readonly targetPages?: number;
}

/**
 * `deferred-split-chain`: the bugs of 6.10's "split a folio on the deferred-split queue
 * before migrating it" (7262f208ca68, Zi Yan, 6.10-rc1), in one scenario:
 *
 * 1. Hugh Dickins (6.10-rc, `46c948b4-4dd8-6e03-4c7b-ce4e81cfa536@google.com`): the split
 *    was not counted as a failure, so when split pieces then failed their best-effort
 *    pass `migrate_pages()` returned 0 with them still on the caller's list; compaction hit
 *    `VM_BUG_ON(!list_empty(&cc->migratepages))` ("kernel BUG at mm/compaction.c:2761!"),
 *    other callers lost the pages. Fixed by 8e279f970b5c (6.10-rc4), counting the split in
 *    `nr_failed`: variant setting `deferredSplitCountsFailed` (off = 6.10-rc1).
 * 2. Peter Xu (`20240708215537.2630610-1-peterx@redhat.com`): `migrate_misplaced_folio()`
 *    put back only the folio it had isolated after a failed migration; the deferred split
 *    (which MR_NUMA_MISPLACED does not prevent) left its other pieces isolated for ever.
 *    Fixed by 6e49019db5f7 (6.11-rc1): `putback_movable_pages()` of the whole list,
 *    variant setting `numaHintPutsBackList`.
 * 3. CVE-2024-53079, "mm/thp: fix deferred split unqueue naming and locking" (Hugh
 *    Dickins, f8f931bba0f9, 6.12): the deferred-split queue's lock is per memcg and the
 *    migration moved the memcg before unqueueing the folio. Not reproduced: the model has
 *    no deferred-split queue (membership is derived from the mapping state) and no memcg
 *    (docs/model-vs-kernel.md).
 *
 * Here: one process with two THPs on node 0, each partially unmapped (its last page), so
 * both are on the deferred-split queue; two threads on node 1 take NUMA-hinting faults on
 * them at once (MIGRATE_ASYNC, MR_NUMA_MISPLACED). Node 1 has room for one THP: both faults
 * pass the room check, both folios are split, and the pieces of whichever loses the race for
 * node 1's free pages fail. The invariants `migrate-pages-success-empty` ("rc == 0 ⇒ the
 * list is empty") and `isolated-put-back` ("every isolated folio is put back") watch the
 * callers; a NUMA fault whose own folio was migrated while pieces failed also corrupts its
 * list (`list_del` of a folio no longer on it) before 6.11.
 *
 * Expected: `v6.10` fails (2); `v6.11` is clean; the kernels before 6.10 never split for a
 * NUMA-hinting fault (the THP fails whole and is put back whole) and are clean;
 * `defineVariant({ extends: 'v6.10', deferredSplitCountsFailed: false })` (6.10-rc1) fails
 * with (1).
 */
export function deferredSplitChain(params: DeferredSplitChainParams = {}): Scenario {
  const targetPages = params.targetPages ?? 768;
  return {
    name: 'deferred-split-chain',
    title:
      '6.10: a deferred-split folio split on the way: success reported with pieces left (8e279f970b5c), pieces never put back (6e49019db5f7)',
    description:
      'Two NUMA-hinting faults migrate two partially mapped THPs (on the deferred-split queue) to ' +
      'a node with room for one: 6.10 splits them first (7262f208ca68) and the loser of the race ' +
      "for the node's pages has pieces left. 6.10-rc1 returned 0 with pieces on the list " +
      '(Hugh Dickins, fixed by 8e279f970b5c in 6.10-rc4; setting deferredSplitCountsFailed); ' +
      'v6.10 puts back only the folio it isolated and leaves the other pieces isolated (Peter Xu, ' +
      'fixed by 6e49019db5f7 in 6.11-rc1). Invariants: rc == 0 implies an empty list, every ' +
      'isolated folio is put back. The deferred-split unqueue locking fix (CVE-2024-53079) needs ' +
      'memcg and a real queue: not modelled.',
    sources: [
      'Hugh Dickins, "mm/migrate: fix kernel BUG at mm/compaction.c:2761!" 46c948b4-4dd8-6e03-4c7b-ce4e81cfa536@google.com; upstream 8e279f970b5c (6.10-rc4), Fixes: 7262f208ca68',
      'Peter Xu, "mm/migrate: putback split folios when numa hint migration fails" 20240708215537.2630610-1-peterx@redhat.com; upstream 6e49019db5f7 (6.11-rc1), Fixes: 7262f208ca68',
      'Zi Yan, 7262f208ca68 "mm/migrate: split source folio if it is on deferred split list" (6.10-rc1)',
      'Hugh Dickins, "mm/thp: fix deferred split unqueue naming and locking", f8f931bba0f9 (6.12), CVE-2024-53079: not modelled',
      'torvalds/linux v6.10 mm/migrate.c: migrate_misplaced_folio, numamigrate_isolate_folio, migrate_pages_batch',
    ],
    config: {
      nodes: [{ pages: 1536 }, { pages: targetPages }],
      cpusPerNode: 2,
      variant: 'v6.10',
    },
    history: bugHistory({ failsIn: ['v6.10'] }),
    build(k) {
      const mm = k.vm.createProcess('numa-app');
      const length = HPAGE_PMD_NR * PAGE_SIZE;
      const a = k.vm.mmap(mm, { length, hugepage: true });
      const b = k.vm.mmap(mm, { length, hugepage: true });
      const ledger = new MigrateCallLedger();
      return {
        *setup() {
          for (const [i, at] of [a, b].entries()) {
            // The first store maps the whole THP; the last page is left unwritten, so the
            // shadow memory has nothing at the address about to be unmapped.
            yield* touchPages(k, mm, at, HPAGE_PMD_NR - 1, (p) => 30_000 + i * 1000 + p);
            // Unmapping one page leaves the THP partially mapped: deferred_split_folio.
            yield* k.vm.munmap(mm, at + length - PAGE_SIZE, PAGE_SIZE);
          }
        },
        actors: [
          numaHintFault(k, { name: 'numa-fault-a', cpu: 2, mm, addr: a, target: 1, ledger }),
          numaHintFault(k, { name: 'numa-fault-b', cpu: 3, mm, addr: b, target: 1, ledger }),
        ],
        invariants: [migratePagesSuccessEmpty(ledger), isolatedPutBack(ledger)],
      };
    },
  };
}
