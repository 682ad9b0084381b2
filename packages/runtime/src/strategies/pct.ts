import { checkInt } from '../errors.js';
import type { RandomStream } from '../random.js';
import type { Task } from '../task.js';
import type { Strategy } from './strategy.js';

export interface PctOptions {
  /** The bug depth d: the run has d - 1 priority change points. Default 3. */
  readonly depth?: number;
  /** The expected number of decisions k, over which change points are spread. Default 1000. */
  readonly steps?: number;
}

/**
 * Probabilistic Concurrency Testing (Burckhardt, Kothari, Musuvathi, Nagarakatte,
 * "A Randomized Scheduler with Probabilistic Guarantees of Finding Bugs", ASPLOS 2010).
 * Every task gets a random priority above d; the highest-priority runnable task runs; at
 * d - 1 decision numbers drawn uniformly from [1, k] the running task drops to priority
 * d - i. A bug of depth d is found with probability at least 1 / (n k^(d-1)).
 *
 * Tasks created during the run get a fresh random priority, which keeps the guarantee's
 * spirit for dynamic task sets.
 */
export class PctStrategy implements Strategy {
  readonly name = 'pct';
  readonly choosesAnywhere = true;
  readonly depth: number;
  readonly steps: number;
  #rng: RandomStream | null = null;
  readonly #priority = new Map<number, number>();
  /** Decision number -> new priority for the task running then. */
  readonly #changePoints = new Map<number, number>();
  #running: Task | null = null;

  constructor(options: PctOptions = {}) {
    this.depth = options.depth ?? 3;
    this.steps = options.steps ?? 1000;
    checkInt('strategy.depth', this.depth, 1, 1000);
    checkInt('strategy.steps', this.steps, 1, 1e9);
  }

  init(rng: RandomStream): void {
    this.#rng = rng;
    // Tasks created before the run get their random priorities now, in id order.
    for (const id of [...this.#priority.keys()].sort((a, b) => a - b)) {
      this.#priority.set(id, this.#randomPriority(rng));
    }
    const count = Math.min(this.depth - 1, this.steps);
    const picked = new Set<number>();
    while (picked.size < count) picked.add(rng.int(1, this.steps));
    // The i-th change point (in decision order) lowers the runner to priority d - i.
    [...picked]
      .sort((a, b) => a - b)
      .forEach((at, i) => {
        this.#changePoints.set(at, this.depth - 1 - i);
      });
  }

  /** Tasks the run has created so far (n of the guarantee). */
  get tasks(): number {
    return this.#priority.size;
  }

  onSpawn(task: Task): void {
    const rng = this.#rng;
    this.#priority.set(task.id, rng === null ? 0 : this.#randomPriority(rng));
  }

  /** Initial priorities are all above d; ties (vanishingly rare) go to the lower id. */
  #randomPriority(rng: RandomStream): number {
    return this.depth + rng.int(0, 0x3fff_ffff);
  }

  choose(eligible: readonly Task[], decision: number): Task {
    const lowered = this.#changePoints.get(decision + 1);
    if (lowered !== undefined && this.#running !== null) {
      this.#priority.set(this.#running.id, lowered);
    }
    let best = eligible[0] as Task;
    let bestPriority = this.#priority.get(best.id) ?? 0;
    for (let i = 1; i < eligible.length; i++) {
      const t = eligible[i] as Task;
      const p = this.#priority.get(t.id) ?? 0;
      if (p > bestPriority) {
        best = t;
        bestPriority = p;
      }
    }
    this.#running = best;
    return best;
  }
}
