/**
 * @internal The uncontended fast paths of the rmap walks (`try_to_migrate` and
 * `remove_migration_ptes` of a singly-mapped anon folio as plain calls): a switch and a
 * count, for the tests that compare them with the general path. Nothing in the model
 * reads `walks`; `enabled` false makes every walk take the general path.
 */
export const rmapUncontended = { enabled: true, walks: 0 };
