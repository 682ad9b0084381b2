import { describe, expect, test } from 'vitest';
import {
  type KernelGen,
  Mutex,
  Runtime,
  type RuntimeConfig,
  Spinlock,
  type StrategySpec,
} from '../src/index.js';

/**
 * Tasks that each log their id `steps` times with a scheduling point in between, taken
 * as `yield` or as `if (!rt.virtualStep()) yield;`; a mutex and a spinlock are taken on
 * the way so that sleeps, wake-ups and atomic sections happen between the points.
 */
function run(config: RuntimeConfig, virtual: boolean, tasks = 3, steps = 40) {
  const rt = new Runtime({ cpus: 2, ...config });
  const mutex = new Mutex(rt, 'm');
  const spin = new Spinlock(rt, 's');
  const log: number[] = [];
  let virtualTaken = 0;
  const point = function* (): KernelGen {
    if (virtual && rt.virtualStep()) virtualTaken++;
    else yield;
  };
  for (let i = 0; i < tasks; i++) {
    rt.spawn(`t${i}`, i % 2, function* (task): KernelGen {
      for (let s = 0; s < steps; s++) {
        log.push(task.id);
        if (s % 7 === 3) {
          yield* mutex.lock();
          yield* point();
          mutex.unlock();
        } else if (s % 11 === 5) {
          yield* spin.lock();
          yield* point();
          spin.unlock();
        }
        yield* point();
      }
    });
  }
  const result = rt.run();
  return { result, log, virtualTaken };
}

const SPECS: StrategySpec[] = ['in-order', 'random', 'pct', 'lowest-clock'];

describe('Runtime.virtualStep', () => {
  test.each(SPECS)(
    'virtual steps give the same schedule, step count and replay token as yields (%s)',
    (strategy) => {
      for (const seed of [1, 2, 3, 17]) {
        const plain = run({ strategy, seed }, false);
        const virtual = run({ strategy, seed }, true);
        expect(virtual.virtualTaken).toBeGreaterThan(0);
        expect(virtual.log).toEqual(plain.log);
        expect(virtual.result.steps).toBe(plain.result.steps);
        expect(virtual.result.decisions).toBe(plain.result.decisions);
        expect(virtual.result.contextSwitches).toBe(plain.result.contextSwitches);
        expect(virtual.result.replayToken).toBe(plain.result.replayToken);
        expect(virtual.result.cpuClocks).toEqual(plain.result.cpuClocks);
      }
    },
  );

  test('a replay of a token recorded with virtual steps runs the same schedule', () => {
    const recorded = run({ strategy: 'random', seed: 5 }, true);
    const replayed = run(
      { strategy: { kind: 'replay', token: recorded.result.replayToken } },
      true,
    );
    expect(replayed.log).toEqual(recorded.log);
  });

  test('a lone task takes its scheduling points without suspending', () => {
    const r = run({}, true, 1, 30);
    expect(r.virtualTaken).toBeGreaterThan(0);
    expect(r.result.steps).toBe(run({}, false, 1, 30).result.steps);
  });

  test('virtual steps stop at the step limit as yields do', () => {
    for (const maxSteps of [1, 7, 50]) {
      const plain = run({ maxSteps, strategy: 'random' }, false);
      const virtual = run({ maxSteps, strategy: 'random' }, true);
      expect(virtual.result.status).toBe('step-limit');
      expect(virtual.result.steps).toBe(plain.result.steps);
      expect(virtual.log).toEqual(plain.log);
    }
  });

  test('with a step hook every point is a real step', () => {
    const seen: number[] = [];
    const r = run({ onStep: (_t, step) => seen.push(step) }, true, 1, 10);
    expect(r.virtualTaken).toBe(0);
    expect(seen.length).toBe(r.result.steps);
  });

  test('outside a task there is no step to take', () => {
    expect(new Runtime().virtualStep()).toBe(false);
  });
});
