import type { Invariant } from '@mmsim/runtime';

/**
 * What the callers of `migrate_pages()` in a scenario report, for the two caller-side rules
 * of the migration API (mm/migrate.c, the comment above `migrate_pages()`; 6.3 and later):
 *
 * - "rc == 0 ⇒ the list is empty": `migrate_pages()` returns 0 only when every folio on
 *   `from` was migrated, so a caller told of complete success has nothing to put back.
 *   `compact_zone()` relies on it with `VM_BUG_ON(!list_empty(&cc->migratepages))`, and
 *   `do_move_pages_to_node()` calls `putback_movable_pages()` only for a nonzero result.
 * - "every isolated folio is put back": when a caller's isolation ends (the round of a
 *   migrator, the NUMA-hinting fault), every folio it isolated has been migrated or given
 *   back: its private list is empty. A folio still on it stays isolated for ever: off the
 *   LRU, its isolation reference held (lost to reclaim and to every later migration).
 *
 * The ledger keeps the first breach of each rule (and counts), so recording costs nothing
 * per folio and nothing is allocated while the rules hold.
 */
export class MigrateCallLedger {
  /** `migrate_pages()` calls recorded. */
  calls = 0;
  /** Isolation scopes that ended. */
  scopes = 0;
  /** The first call that returned 0 with folios left on its list, or null. */
  successWithLeftovers: string | null = null;
  /** The first isolation scope that ended with folios still on its list, or null. */
  leftIsolated: string | null = null;

  /** After `migrate_pages()` returned `rc` to `caller` with `left` folios on its list. */
  migratePagesReturned(caller: string, rc: number, left: number): void {
    this.calls++;
    if (rc === 0 && left > 0 && this.successWithLeftovers === null) {
      this.successWithLeftovers = `migrate_pages() returned 0 to ${caller} with ${left} folio(s) still on its list (call ${this.calls})`;
    }
  }

  /** When `caller`'s isolation ends with `left` folios still on its private list. */
  isolationEnded(caller: string, left: number): void {
    this.scopes++;
    if (left > 0 && this.leftIsolated === null) {
      this.leftIsolated = `${caller} ended its isolation with ${left} folio(s) neither migrated nor put back (scope ${this.scopes})`;
    }
  }
}

/**
 * `migrate-pages-success-empty`: "rc == 0 ⇒ the list is empty" over the calls a
 * `MigrateCallLedger` recorded (see there). Cheap: checked after every step.
 */
export function migratePagesSuccessEmpty(ledger: MigrateCallLedger): Invariant {
  return {
    name: 'migrate-pages-success-empty',
    check: () => ledger.successWithLeftovers,
  };
}

/**
 * `isolated-put-back`: "every isolated folio is put back" over the isolation scopes a
 * `MigrateCallLedger` recorded (see there). Cheap: checked after every step.
 */
export function isolatedPutBack(ledger: MigrateCallLedger): Invariant {
  return {
    name: 'isolated-put-back',
    check: () => ledger.leftIsolated,
  };
}
