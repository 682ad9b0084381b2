import { type KernelGen, Mutex, Runtime } from '@mmsim/runtime';
import fc from 'fast-check';
import type { BenchResult } from './measure.js';

/**
 * The AB-BA program of issue 17: two tasks each do `n` increments of a shared counter (a
 * scheduling point each), then take two mutexes in opposite orders with a scheduling point
 * in between. Some interleavings deadlock.
 */

/** One random schedule of the program in mmsim's runtime; true when it deadlocked. */
function mmsimSchedule(n: number, seed: number): boolean {
  const rt = new Runtime({ cpus: 2, strategy: 'random', seed });
  const a = new Mutex(rt, 'A');
  const b = new Mutex(rt, 'B');
  const state = { counter: 0 };
  const task = (first: Mutex, second: Mutex) =>
    function* (): KernelGen {
      for (let i = 0; i < n; i++) {
        state.counter++;
        yield;
      }
      yield* first.lock();
      yield;
      yield* second.lock();
      second.unlock();
      first.unlock();
    };
  rt.spawn('ab', 0, task(a, b));
  rt.spawn('ba', 1, task(b, a));
  return rt.run().status === 'deadlock';
}

/** A promise mutex for the fast-check side: waiters queue and are handed the lock. */
class PromiseMutex {
  held = false;
  readonly waiters: (() => void)[] = [];
  lock(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }
  unlock(): void {
    const next = this.waiters.shift();
    if (next === undefined) this.held = false;
    else next();
  }
}

/** The same program under fast-check's scheduler: every scheduling point is a scheduled promise. */
async function fastCheckSchedule(s: fc.Scheduler, n: number): Promise<boolean> {
  const a = new PromiseMutex();
  const b = new PromiseMutex();
  const state = { counter: 0, done: 0 };
  const task = async (first: PromiseMutex, second: PromiseMutex) => {
    for (let i = 0; i < n; i++) {
      state.counter++;
      await s.schedule(Promise.resolve());
    }
    await first.lock();
    await s.schedule(Promise.resolve());
    await second.lock();
    second.unlock();
    first.unlock();
    state.done++;
  };
  void task(a, b);
  void task(b, a);
  // waitIdle, not the deprecated waitAll: waitAll returns as soon as no task is scheduled,
  // before the tasks reach the lock phase a few microtasks later, so it would time a
  // program that never takes the mutexes (every run would count as a deadlock).
  await s.waitIdle();
  return state.done < 2;
}

/** Schedules per second of each side, over `runs` schedules (best of `rounds`). */
async function measure(n: number, runs: number, rounds: number) {
  let mmsimBest = 0;
  let fcBest = 0;
  let mmsimDeadlocks = 0;
  let fcDeadlocks = 0;
  for (let round = 0; round < rounds; round++) {
    let start = performance.now();
    mmsimDeadlocks = 0;
    for (let i = 0; i < runs; i++) if (mmsimSchedule(n, i + 1)) mmsimDeadlocks++;
    mmsimBest = Math.max(mmsimBest, (runs * 1000) / (performance.now() - start));
    start = performance.now();
    fcDeadlocks = 0;
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), async (s) => {
        if (await fastCheckSchedule(s, n)) fcDeadlocks++;
      }),
      { numRuns: runs, seed: 1 },
    );
    fcBest = Math.max(fcBest, (runs * 1000) / (performance.now() - start));
  }
  return { mmsimBest, fcBest, mmsimDeadlocks, fcDeadlocks };
}

/**
 * `explore.abba_vs_fast_check_ratio_n4` and `_n50`: mmsim's random schedules per second on
 * the AB-BA program over fast-check's `fc.scheduler()` schedules per second, in one run.
 */
export async function abbaVsFastCheckBenchmarks(runs = 3000, rounds = 3): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  for (const n of [4, 50]) {
    const m = await measure(n, runs, rounds);
    // Both sides run the whole program: some schedules deadlock, and not all of them.
    for (const d of [m.mmsimDeadlocks, m.fcDeadlocks]) {
      if (d === 0 || d === runs) {
        throw new Error(`AB-BA (n = ${n}): ${d} of ${runs} schedules deadlocked on one side`);
      }
    }
    out.push({
      name: `explore.abba_vs_fast_check_ratio_n${n}`,
      value: m.mmsimBest / m.fcBest,
      unit: 'x',
      better: 'higher',
      description: `Two tasks doing ${n} increments then taking two mutexes in opposite orders, random schedules: mmsim's runtime (${m.mmsimBest.toFixed(0)}/s) over fast-check's fc.scheduler() (${m.fcBest.toFixed(0)}/s), best of ${rounds} rounds of ${runs} schedules each, side by side in one process.`,
      detail: {
        mmsimSchedulesPerSec: m.mmsimBest,
        fastCheckSchedulesPerSec: m.fcBest,
        mmsimDeadlocks: m.mmsimDeadlocks,
        fastCheckDeadlocks: m.fcDeadlocks,
        runs,
      },
    });
  }
  return out;
}
