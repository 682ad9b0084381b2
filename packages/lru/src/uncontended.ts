/**
 * @internal The uncontended fast paths of `folio_add_lru` and `lru_add_drain` (plain calls
 * when nothing can spin) and the plain-call start of `folio_isolate_lru`
 * (`LruIsolation.folioIsolateLruStart`): a switch and counts, for the tests that compare
 * them with the general path. Nothing in the model reads the counts; `enabled` false
 * makes every call take the general path.
 */
export const lruUncontended = { enabled: true, adds: 0, drains: 0, isolations: 0 };
