// Shared by explore-cpu.mjs and explore-profile.mjs: the explorer and a built-in scenario's
// target from a built checkout, and the options their random searches use.
import { pathToFileURL } from 'node:url';

/** Random search with every check on, no stop at a finding, no shrinking. */
export const SEARCH_OPTIONS = { stopOnFirst: false, shrink: false };

/**
 * `explore` and the target of scenario `name` in `variant`, loaded from `root`'s built
 * packages (`pnpm build` run in it). An unknown scenario exits with code 2.
 */
export async function loadExploration(root, name, variant) {
  const load = (pkg) => import(pathToFileURL(`${root}/packages/${pkg}/dist/index.js`).href);
  const { explore } = await load('explore');
  const { builtinScenarios, scenarioTarget } = await load('scenarios');
  const scenario = builtinScenarios().find((s) => s.name === name);
  if (!scenario) {
    console.error(`no built-in scenario named ${name}`);
    process.exit(2);
  }
  return { explore, target: scenarioTarget(scenario, { variant }) };
}
