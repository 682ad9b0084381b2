/**
 * The worker-thread side of `mmsim explore --workers N` (loaded from the built dist by the
 * pool in explore-pool.ts): runs batches of schedules of an exploration it builds from plain
 * data, and returns plain counts.
 */
import { type BatchResult, runBatch, type ScheduleBatch } from '@mmsim/explore';
import { preloadVariantModules } from '../variant-file.js';
import { type BuiltExploration, buildExploration, type ExploreSpec } from './explore-spec.js';

export interface WorkerTask {
  readonly spec: ExploreSpec;
  readonly batch: ScheduleBatch;
}

// The exploration last built, as a promise: tasks that arrive together (a pool hands out
// more than one at a time) share one build.
let cached: { key: string; built: Promise<BuiltExploration> } | null = null;

async function build(spec: ExploreSpec): Promise<BuiltExploration> {
  if (spec.variant !== undefined) await preloadVariantModules(['--variant', spec.variant]);
  return buildExploration(spec);
}

export default async function runTask(task: WorkerTask): Promise<BatchResult> {
  const key = JSON.stringify(task.spec);
  if (cached === null || cached.key !== key) cached = { key, built: build(task.spec) };
  const built = await cached.built;
  return runBatch(built.target, built.options, task.batch);
}
