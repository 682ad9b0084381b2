import { builtInNames, builtInScenario } from '../catalog.js';
import { EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';

/** `mmsim scenarios`: the built-in scenarios, one line each. */
export function scenariosCommand(io: CliIo, options: { json?: boolean }): number {
  const rows = builtInNames().map((name) => {
    const s = builtInScenario(name);
    return { name, title: s.title, history: s.history ?? null };
  });
  if (options.json === true) {
    io.stdout(`${JSON.stringify(rows)}\n`);
    return EXIT_OK;
  }
  const width = Math.max(...rows.map((r) => r.name.length));
  for (const r of rows) io.stdout(`${r.name.padEnd(width)}  ${r.title}\n`);
  return EXIT_OK;
}
