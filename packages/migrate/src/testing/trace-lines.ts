import type { HasRuntime } from '@mmsim/lru/test';
import { formatMigrateEvent } from '../tracepoints.js';

/**
 * Collects the ftrace text of `mm_migrate_pages_start` and `mm_migrate_pages` into the
 * returned array as the run emits them.
 */
export function traceLines(m: HasRuntime): string[] {
  const lines: string[] = [];
  for (const name of ['mm_migrate_pages_start', 'mm_migrate_pages']) {
    m.rt.trace.on(name, (e) => {
      lines.push(`${e.name}: ${formatMigrateEvent(e)}`);
    });
  }
  return lines;
}
