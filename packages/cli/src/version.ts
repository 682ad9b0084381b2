import { createRequire } from 'node:module';

/** The version of `@mmsim/cli`, from its package.json (src/ and dist/ sit next to it). */
export function cliVersion(): string {
  const pkg = createRequire(import.meta.url)('../package.json') as { version: string };
  return pkg.version;
}

/**
 * The schedule of a scenario written as data when neither the file nor `--strategy` names
 * one: `lowest-clock` runs the task with the smallest virtual clock next, so actors on
 * different CPUs interleave as they would in parallel (with `in-order`, a writer that never
 * sleeps could starve a migrator for the whole run).
 */
export const DATA_SCENARIO_STRATEGY = 'lowest-clock' as const;

export const DATA_SCENARIO_STRATEGY_HELP =
  'a scenario file written as data defaults to lowest-clock, which interleaves its actors by virtual time';
