import { MmsimError, type Runtime, type Task } from '@mmsim/runtime';

/**
 * Throws INVALID_ARGUMENT unless `task` is a live task of this runtime: the target of a
 * lock or writeback hand-over.
 */
export function checkTarget(rt: Runtime, task: Task, what: string): void {
  if (rt.taskById(task.id) !== task) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `${what}: ${String(task)} is not a task of this runtime`,
    );
  }
  if (task.state === 'done') {
    throw new MmsimError('INVALID_ARGUMENT', `${what}: ${task} has already ended`);
  }
}
