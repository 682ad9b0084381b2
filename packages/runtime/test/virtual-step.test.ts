import { describe, expect, test } from 'vitest';
import {
  type KernelGen,
  Mutex,
  Runtime,
  type RuntimeConfig,
  Spinlock,
  type Strategy,
  type StrategySpec,
  type Task,
} from '../src/index.js';

/**
 * Tasks that each log their id `steps` times with a scheduling point in between, taken
 * as `yield` or as `if (!rt.virtualStep()) yield;`; a mutex and a spinlock are taken on
 * the way so that sleeps, wake-ups and atomic sections happen between the points.
 */
function run(
  config: RuntimeConfig,
  virtual: boolean,
  tasks = 3,
  steps = 40,
  box: { rt?: Runtime } = {},
) {
  const rt = new Runtime({ cpus: 2, ...config });
  box.rt = rt;
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

  test.each(SPECS)(
    'a step hook sees every step, with the task that ran, as with yields (%s)',
    (strategy) => {
      for (const seed of [1, 2, 3, 17]) {
        const hooked = (virtual: boolean) => {
          const seen: string[] = [];
          const box: { rt?: Runtime } = {};
          let current: Task | null = null;
          const r = run(
            {
              strategy,
              seed,
              onStep: (task, step) => {
                seen.push(`${step}:${task.id}:${task.state}`);
                current ??= box.rt?.currentTask ?? null;
              },
            },
            virtual,
            3,
            40,
            box,
          );
          return { ...r, seen, current };
        };
        const plain = hooked(false);
        const virtual = hooked(true);
        expect(virtual.virtualTaken).toBeGreaterThan(0);
        expect(virtual.seen).toEqual(plain.seen);
        expect(virtual.seen.length).toBe(virtual.result.steps);
        // The hook runs between steps: no task is current, at a virtual step as at a round.
        expect(virtual.current).toBeNull();
        expect(virtual.log).toEqual(plain.log);
        expect(virtual.result.replayToken).toBe(plain.result.replayToken);
        expect(virtual.result.cpuClocks).toEqual(plain.result.cpuClocks);
      }
    },
  );

  test('what a step hook throws at a virtual step ends the run after that step, as with yields', () => {
    const stopAt = (virtual: boolean, at: number) => {
      const seen: number[] = [];
      const r = () =>
        run(
          {
            strategy: 'random',
            seed: 3,
            onStep: (_t, step) => {
              seen.push(step);
              if (step === at) throw new Error(`stop at ${step}`);
            },
          },
          virtual,
        );
      let error: unknown = null;
      try {
        r();
      } catch (e) {
        error = e;
      }
      return { error, seen };
    };
    let virtualThrows = 0;
    for (const at of [1, 5, 23, 60, 101]) {
      const plain = stopAt(false, at);
      const virtual = stopAt(true, at);
      expect(plain.error).toBeInstanceOf(Error);
      // The hook's own error, not a crash of the task that was running.
      expect(virtual.error).toBeInstanceOf(Error);
      expect((virtual.error as Error).message).toBe(`stop at ${at}`);
      expect(virtual.seen).toEqual(plain.seen);
      expect(virtual.seen.at(-1)).toBe(at);
      virtualThrows++;
    }
    expect(virtualThrows).toBe(5);
  });

  test('a strategy that reads what the step hook recorded decides as at a round', () => {
    // The hook records the task of each step; the strategy switches away from it whenever
    // it can: it must have seen the step that just ended, at a virtual step as at a round.
    const choose = (virtual: boolean) => {
      let last = 0;
      const strategy: Strategy = {
        name: 'switch-away',
        choosesAnywhere: true,
        choose(eligible: readonly Task[]): Task {
          return (eligible.find((t) => t.id !== last) ?? eligible[0]) as Task;
        },
      };
      const seen: number[] = [];
      const r = run(
        {
          strategy,
          onStep: (task) => {
            last = task.id;
            seen.push(task.id);
          },
        },
        virtual,
      );
      return { ...r, seen };
    };
    const plain = choose(false);
    const virtual = choose(true);
    expect(virtual.virtualTaken).toBeGreaterThan(0);
    expect(virtual.seen).toEqual(plain.seen);
    expect(virtual.result.replayToken).toBe(plain.result.replayToken);
  });

  test('outside a task there is no step to take', () => {
    expect(new Runtime().virtualStep()).toBe(false);
  });
});
