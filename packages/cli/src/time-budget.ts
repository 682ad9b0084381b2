import { UsageError } from './usage-error.js';

/** Most seconds `--time-budget` takes (a day). */
export const MAX_TIME_BUDGET_SECONDS = 86_400;

/** `--time-budget SECONDS` (a positive number, fractions allowed) in milliseconds. */
export function timeBudgetOption(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(value > 0) || value > MAX_TIME_BUDGET_SECONDS) {
    throw new UsageError(
      `--time-budget must be a number of seconds in (0, ${MAX_TIME_BUDGET_SECONDS}]; got "${text}"`,
    );
  }
  return value * 1000;
}

/** Thrown out of a run's `onStep` when its wall-clock budget is spent. */
export class TimeBudgetExceeded extends Error {
  override readonly name = 'TimeBudgetExceeded';
}

/**
 * An `onStep` hook that ends a run once `budgetMs` of wall-clock time has passed. It reads
 * the clock every 1024 steps only, so the run is not slowed.
 */
export function timeBudgetWatch(
  budgetMs: number,
  now: () => number = () => performance.now(),
): (task: unknown, step: number) => void {
  const deadline = now() + budgetMs;
  return (_task, step) => {
    if ((step & 1023) === 0 && now() >= deadline) {
      throw new TimeBudgetExceeded(`time budget of ${budgetMs} ms spent`);
    }
  };
}
