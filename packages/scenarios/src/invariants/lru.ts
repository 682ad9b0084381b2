import type { Kernel } from '@mmsim/kernel';
import type { CheckOptions } from '@mmsim/lru';
import type { Invariant } from '@mmsim/runtime';
import { NodeStat } from '@mmsim/runtime';
import { firstProblem, strided } from './invariant.js';

/**
 * `lru-consistent`: the LRU view's checks (`LruView.check`): each folio on at most one list
 * or batch, PG_lru set exactly when listed (but inside an isolation in progress), list
 * sizes equal their folios' pages and vmstat. The end check also scans memory for PG_lru
 * on unlisted folios.
 *
 * A step check is incremental (`CheckOptions.incremental`): after a sound pass it tests
 * again only the folios the model's writers marked since, with the same answer as the
 * whole pass for every state the model's functions reach; the first pass on a machine,
 * any pass after a failing one and the end check are whole.
 *
 * Kernel rule (mm/swap.c, mm/vmscan.c, 6.3): a folio is on an lruvec list exactly while
 * PG_lru is set, both changed under `lruvec->lru_lock`, except in the two windows the
 * kernel opens on purpose: `folio_isolate_lru` clears PG_lru (`folio_test_clear_lru`)
 * before it takes the lock to unlink, and the last `folio_put` unlinks a folio whose
 * refcount is already 0 (`__page_cache_release`). A folio in a per-CPU `lru_add` batch
 * holds the batch's reference and has PG_lru clear (`folio_add_lru`). Legal states of the
 * operations that run concurrently with it, which the check accepts: isolation by
 * migration / compaction (PG_lru clear, still listed), putback (`folio_add_lru`: in a
 * batch, off the lists), the final put (refcount 0, still listed), a THP split
 * (`lru_add_page_tail`: tails listed next to the head under the same lock, one step in
 * the model). Exercised at every step by the scenarios' explorations with stride 1
 * (test/invariants-concurrent.test.ts).
 */
export function lruConsistent(k: Kernel, stride: number): Invariant {
  return strided('lru-consistent', stride, (phase) =>
    firstProblem(k.lruView.check(phase === 'end' ? END_PASS : STEP_PASS)),
  );
}

/** The end check's options: a whole pass with the memory scan. */
const END_PASS: CheckOptions = { scanMemory: true };
/** A step check's options: incremental after a sound pass, no memory scan. */
const STEP_PASS: CheckOptions = { scanMemory: false, incremental: true };

const ISOLATED_ANON = NodeStat.NR_ISOLATED_ANON;
const ISOLATED_FILE = NodeStat.NR_ISOLATED_FILE;

/**
 * `nr-isolated`: NR_ISOLATED_ANON and NR_ISOLATED_FILE never go below 0 on any node (a
 * double decrement), and are 0 on every node when the run completes (every isolation was
 * given back or migrated: none leaked). Cheap: checked after every step.
 *
 * Kernel rule (mm/migrate.c, mm/compaction.c, 6.3): whoever isolates a folio for
 * migration adds its pages to `NR_ISOLATED_ANON + folio_is_file_lru(folio)` of its node
 * (`isolate_migratepages_block`, `add_page_for_migration`, `migrate_misplaced_page`), and
 * exactly one of `putback_movable_pages` / `migrate_folio_undo_src` / `migrate_folio_done`
 * takes them away again, with the same flags (PG_swapbacked does not change while
 * isolated). A THP split while isolated (`try_split_folio`) gives back its pieces one by
 * one, which sum to the pages added. The model's vmstat is exact (no per-CPU deltas),
 * so a negative value is a double decrement, never drift.
 */
export function nrIsolated(k: Kernel): Invariant {
  // The machine's counters, read after every step: the two items of each node read
  // straight (no table of pairs, no name until a message is due); a machine's node count
  // is fixed when it is built.
  const vmstat = k.vmstat;
  const nrNodes = vmstat.nrNodes;
  return {
    name: 'nr-isolated',
    check(phase) {
      const end = phase === 'end';
      for (let nid = 0; nid < nrNodes; nid++) {
        const anon = vmstat.nodePageState(nid, ISOLATED_ANON);
        const file = vmstat.nodePageState(nid, ISOLATED_FILE);
        if (anon < 0 || file < 0 || (end && (anon !== 0 || file !== 0))) {
          return isolatedProblem(nid, anon, file, end);
        }
      }
      return null;
    },
  };
}

/** `nr-isolated`'s message for node `nid` (anon first, as /proc/vmstat lists them). */
function isolatedProblem(nid: number, anon: number, file: number, end: boolean): string {
  for (const [value, name] of [
    [anon, 'nr_isolated_anon'],
    [file, 'nr_isolated_file'],
  ] as const) {
    if (value < 0) return `node ${nid} ${name} is ${value}`;
    if (end && value !== 0) {
      return `node ${nid} ${name} is ${value} after every task ended: an isolation was not given back`;
    }
  }
  return `node ${nid}: nr_isolated_anon ${anon}, nr_isolated_file ${file}`;
}
