import type { VariantName } from '@mmsim/migrate';
import { measureScenario } from './explore-one.js';

/**
 * `node --import tsx explore-runner.ts SCENARIO VARIANT`: one scenario of the explore bench
 * measured in this process (`measureScenario`), its figures as one JSON line on stdout. The
 * bench (explore.ts) starts one such process per scenario, as a user's `mmsim explore
 * SCENARIO` is one process per scenario.
 */
const [name, variant] = process.argv.slice(2);
if (name === undefined || variant === undefined) {
  process.stderr.write('usage: explore-runner.ts SCENARIO VARIANT\n');
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(measureScenario(name, variant as VariantName))}\n`);
