import type { ReasonCostRow } from '@mmsim/migrate';

/**
 * The `cost per reason:` section of the `mmsim run` summary: one line per migrate reason
 * that had a `migrate_pages()` call (see `ReasonCosts` in @mmsim/migrate); nothing when
 * there was none.
 */
export function formatReasonCosts(rows: readonly ReasonCostRow[]): string[] {
  if (rows.length === 0) return [];
  const out = [
    'cost per reason (migrate_pages calls, virtual us, pages migrated/failed, splits, IPIs, retries):',
  ];
  for (const r of rows) {
    out.push(
      `  ${r.reason}: ${r.calls} calls, ${(r.ns / 1000).toFixed(1)} us, ${r.succeeded} migrated, ` +
        `${r.failed} failed, ${r.split} split, ${r.ipis} IPIs, ${r.retries} retries`,
    );
  }
  return out;
}
