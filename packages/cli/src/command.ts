/**
 * What `bin.ts` needs to run a command, in one module: the build bundles it with every module
 * it imports into dist/command.bundle.js (scripts/bundle-command.mjs), which the bin loads
 * instead of several hundred modules one by one.
 */
export { preloadDriverModules } from './commands/check-driver.js';
export { processIo } from './io.js';
export { mainAsync } from './main-async.js';
export { preloadVariantModules } from './variant-file.js';
/** (Where the worker threads' module is, as the bundle finds it: tested.) */
export { workerModule } from './workers/explore-pool.js';
