/**
 * @internal The uncontended fast paths of `folio_add_lru` and `lru_add_drain` (plain calls
 * when nothing can spin), their fusion (`folioAddLruDrainUncontended`) and the plain-call
 * start of `folio_isolate_lru` (`LruIsolation.folioIsolateLruStart`): switches and counts,
 * for the tests that compare them with the general path. Nothing in the model reads the
 * counts; `enabled` false makes every call take the general path, `addDrain` false makes
 * the fused call decline (the caller then makes the two calls).
 */
export const lruUncontended = {
  enabled: true,
  addDrain: true,
  adds: 0,
  drains: 0,
  addDrains: 0,
  isolations: 0,
};
