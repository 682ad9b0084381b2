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

let cached: { key: string; built: BuiltExploration } | null = null;

export default async function runTask(task: WorkerTask): Promise<BatchResult> {
  const key = JSON.stringify(task.spec);
  if (cached === null || cached.key !== key) {
    if (task.spec.variant !== undefined)
      await preloadVariantModules(['--variant', task.spec.variant]);
    cached = { key, built: buildExploration(task.spec) };
  }
  return runBatch(cached.built.target, cached.built.options, task.batch);
}
