/**
 * @mmsim/cli: the `mmsim` command, also callable as a function (`main(argv, io)`).
 */

export { batchCopyBenchmarks } from './bench/batch-copy.js';
export { type BenchResult, formatBenchMarkdown } from './bench/bench-result.js';
export {
  type CalibratedHeadline,
  calibratedHeadline,
  calibrationBenchmarks,
  pmbenchBenchmarks,
} from './bench/pmbench.js';
export { scenarioBenchmarks } from './bench/scenarios.js';
export { builtInNames, builtInScenario } from './catalog.js';
export { EXIT_FINDING, EXIT_OK, EXIT_USAGE } from './exit-codes.js';
export { type CliIo, type OutputFile, processIo } from './io.js';
export { type MainHooks, main } from './main.js';
export { mainAsync } from './main-async.js';
export {
  loadScenarioFile,
  type ScenarioFile,
  scenarioFileJsonSchema,
  scenarioFileSchema,
} from './scenario-file.js';
export { UsageError } from './usage-error.js';
