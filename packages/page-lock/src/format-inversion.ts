import type { DependencyEdge, InversionReport } from './dependency-checker.js';

function held(edge: DependencyEdge): string {
  return edge.heldKind === 'writeback'
    ? `owns ${edge.from} (started in ${edge.heldIn})`
    : `holds ${edge.from} (taken in ${edge.heldIn})`;
}

function next(edge: DependencyEdge): string {
  return edge.how === 'wait'
    ? `waits for ${edge.to} in ${edge.acquiredIn}`
    : `takes ${edge.to} in ${edge.acquiredIn}`;
}

/**
 * A report as text: one line per dependency of the cycle, each with its task and the
 * kernel functions that took the held lock and took (or waited for) the next one.
 *
 * ```text
 * possible page-lock deadlock: a dependency cycle of 2 lock classes
 *   ab-1 holds folio 0x1200 (taken in first_lock) and takes folio 0x1400 in second_lock
 *   ba-2 holds folio 0x1400 (taken in first_lock) and takes folio 0x1200 in second_lock  <- closed the cycle
 * ```
 */
export function formatInversion(report: InversionReport): string {
  const n = report.cycle.length;
  const lines = [`possible page-lock deadlock: a dependency cycle of ${n} lock classes`];
  report.cycle.forEach((edge, i) => {
    const mark = i === n - 1 ? '  <- closed the cycle' : '';
    lines.push(`  ${edge.task.name}-${edge.task.id} ${held(edge)} and ${next(edge)}${mark}`);
  });
  return lines.join('\n');
}
