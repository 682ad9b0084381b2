import { VARIANT_NAMES, type VariantName } from '@mmsim/kernel';
import { historyBugVariants, type ScenarioHistory } from '@mmsim/scenarios';
import { builtInNames, builtInScenario } from '../catalog.js';
import { EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';

/**
 * The variant that fixed a scenario's bug: the first variant, in `VARIANT_NAMES` order
 * (the order of the kernel history the variants follow), after the last one with the bug
 * that is free of it. Null when no variant has the bug or none after it is free of it.
 */
export function fixingVariant(history: ScenarioHistory | undefined): VariantName | null {
  const bugIn = history === undefined ? [] : historyBugVariants(history);
  if (history === undefined || bugIn.length === 0) return null;
  const last = Math.max(...bugIn.map((v) => VARIANT_NAMES.indexOf(v)));
  return VARIANT_NAMES.slice(last + 1).find((v) => history.fixedIn.includes(v)) ?? null;
}

/**
 * `mmsim scenarios`: the built-in scenarios, one line each: name, the variants with the variants that have
 * the bug the scenario reproduces and the variant that fixed it, title.
 */
export function scenariosCommand(io: CliIo, options: { json?: boolean }): number {
  const rows = builtInNames().map((name) => {
    const s = builtInScenario(name);
    const history = s.history;
    return {
      name,
      title: s.title,
      history: history ?? null,
      bugIn: history === undefined ? null : [...historyBugVariants(history)],
      fixedBy: fixingVariant(history),
    };
  });
  if (options.json === true) {
    io.stdout(`${JSON.stringify(rows)}\n`);
    return EXIT_OK;
  }
  const width = Math.max(...rows.map((r) => r.name.length));
  const bugs = rows.map((r) =>
    r.bugIn === null
      ? 'benchmark'
      : r.bugIn.length === 0
        ? 'no bug (regression check)'
        : `bug in ${r.bugIn.join(', ')}; fixed in ${r.fixedBy ?? 'none yet'}`,
  );
  const bugWidth = Math.max(...bugs.map((b) => b.length));
  rows.forEach((r, i) => {
    io.stdout(`${r.name.padEnd(width)}  ${bugs[i]!.padEnd(bugWidth)}  ${r.title}\n`);
  });
  return EXIT_OK;
}
