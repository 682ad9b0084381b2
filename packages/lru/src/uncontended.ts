/**
 * @internal The uncontended fast paths of `folio_add_lru` and `lru_add_drain` (plain calls
 * when nothing can spin): a switch and counts, for the tests that compare them with the
 * general path. Nothing in the model reads the counts; `enabled` false makes every call
 * take the general path.
 */
export const lruUncontended = { enabled: true, adds: 0, drains: 0 };
