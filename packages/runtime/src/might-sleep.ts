import { MmsimError } from './errors.js';
import type { Task } from './task.js';

/**
 * `might_sleep()`: throws SLEEP_IN_ATOMIC when `task` may not sleep because it holds (or
 * spins on) more than `allowed` spinlocks. Sleeping primitives call it before they change
 * anything, even when they turn out not to need to sleep, as the kernel's debug check does.
 */
export function mightSleep(task: Task, what: string, allowed = 0): void {
  if (task.preemptCount > allowed) {
    throw new MmsimError(
      'SLEEP_IN_ATOMIC',
      `BUG: sleeping function called from invalid context: ${task} calls ${what} with ` +
        `preempt_count ${task.preemptCount} (a spinlock is held)`,
    );
  }
}
