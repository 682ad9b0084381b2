/**
 * The protocol checks of the conformance kit, each with the kernel rule it enforces. The
 * rules are those of `struct movable_operations` (include/linux/migrate.h) as
 * `isolate_movable_page`, `move_to_new_folio` and `putback_movable_pages` (mm/migrate.c,
 * Linux 6.3) use them, and Documentation/mm/page_migration.rst ("Non-LRU page migration").
 */
export const DRIVER_CHECKS = [
  {
    name: 'references-balance',
    title: 'references balance',
    rule: 'The core takes and drops the isolation reference itself: isolate_page, putback_page and a failed migrate_page leave every reference count as they found it; a successful migrate_page gives dst exactly one new reference (the driver now holds dst); at the end each driver page holds only the driver reference.',
  },
  {
    name: 'pg-isolated',
    title: 'PG_isolated set on isolation, cleared after migrate or putback',
    rule: 'isolate_movable_page sets PG_isolated (the driver must not: WARN_ON_ONCE in 6.3), move_to_new_folio clears it on success and putback_movable_pages after putback_page (VM_BUG_ON_PAGE(!PageIsolated) if the driver cleared it); no driver page is left isolated when migration is over.',
  },
  {
    name: 'page-locked-during-migrate',
    title: 'the page lock is held during migrate_page',
    rule: 'isolate_page, migrate_page and putback_page run with the page lock held by the core (migrate_page with src and dst locked); the driver must neither drop nor retake it: __ClearPageMovable and the core\u2019s own unlock rely on it.',
  },
  {
    name: 'dst-movable-src-released',
    title: 'dst made movable and src released exactly once',
    rule: 'On MIGRATEPAGE_SUCCESS the driver has set up dst with __SetPageMovable(dst, its operations) and called __ClearPageMovable(src) under the page lock, and dropped its one reference on src exactly once (the core drops the isolation reference and frees src). In the 2025 movable_ops protocol (6.17, variant setting movableProtocol page-type-2025) src keeps its operations until it is freed: clearing them is the violation.',
  },
  {
    name: 'data-at-dst',
    title: 'the driver\u2019s data is found at dst',
    rule: 'migrate_page moves the contents of the old page to the new one; MIGRATEPAGE_SUCCESS means the data now lives at dst. A driver that "succeeds" without copying fails here.',
  },
  {
    name: 'no-use-after-putback',
    title: 'no use of a page after putback or release',
    rule: 'Once a page has left the driver (src after a successful migrate_page, a page it gave back, a page it released in putback_page), the driver must not read, write, move or free it again; after putback_page the page is the driver\u2019s again and stays usable. With the 2025 protocol the operations of a page stay until it is freed, so migrate_page and putback_page can be handed a page the driver already released: they must recognise it and leave it alone (zsmalloc fakes success, mm/zsmalloc: stop using __ClearPageMovable(), 6.17).',
  },
  {
    name: 'no-page-lost-or-duplicated',
    title: 'no page lost or duplicated',
    rule: 'Every page the driver owns stays movable with its operations and listed once; after a successful migration the driver lists dst and no longer src, after a failed one src and not dst; no frame outside its list carries its operations.',
  },
  {
    name: 'lock-order',
    title: 'driver locks and the folio lock taken in a consistent order',
    rule: 'migrate_page runs under the page lock, so a driver lock taken there orders page lock -> driver lock; a driver path that sleeps on a page lock while holding that driver lock (or two driver locks taken in both orders) can deadlock. The page lock counts as one class, as lockdep would see lock_page.',
  },
  {
    name: 'callback-contract',
    title: 'callbacks return legal values and do not throw',
    rule: 'isolate_page returns a bool; migrate_page returns MIGRATEPAGE_SUCCESS, -EAGAIN or a negative errno; no callback fails in a way the kernel would not survive (the SDK\u2019s DriverContractError, or a callback that throws: a finding of kind driver).',
  },
] as const;

/** The name of a protocol check. */
export type DriverCheckName = (typeof DRIVER_CHECKS)[number]['name'];

/** The check names, in the order the kit evaluates them. */
export const DRIVER_CHECK_NAMES: readonly DriverCheckName[] = DRIVER_CHECKS.map((c) => c.name);

const NAMES: ReadonlySet<string> = new Set(DRIVER_CHECK_NAMES);

/** Whether `name` is one of the kit's checks. */
export function isDriverCheckName(name: string): name is DriverCheckName {
  return NAMES.has(name);
}
