import type { Runtime } from '@mmsim/runtime';

/** `comm-pid` of the task with this id, or `nobody` (for 0, or an id this runtime never made). */
export function ownerName(rt: Runtime, id: number): string {
  const task = rt.taskById(id);
  return task === undefined ? 'nobody' : String(task);
}
