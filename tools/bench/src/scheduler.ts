import { type KernelGen, Runtime, type Strategy, type Task } from '@mmsim/runtime';
import { type BenchResult, opsPerSecond } from './measure.js';

/** Alternates between the runnable tasks, so that every scheduling point is a switch. */
function alternating(): Strategy {
  let last = -1;
  return {
    name: 'alternating',
    choose(eligible: readonly Task[]): Task {
      const next = eligible.find((t) => t.id !== last) ?? (eligible[0] as Task);
      last = next.id;
      return next;
    },
  };
}

function* nested(depth: number): KernelGen {
  if (depth === 0) {
    yield;
    return;
  }
  yield* nested(depth - 1);
}

/** Steps of a run of `tasks` tasks on `cpus` CPUs that each yield `n / tasks` times. */
function runYields(
  n: number,
  tasks: number,
  cpus: number,
  strategy: Runtime['strategy'] | 'in-order' | 'random',
  depth = 0,
) {
  const rt = new Runtime({ cpus, strategy, seed: 1 });
  const per = Math.ceil(n / tasks);
  for (let t = 0; t < tasks; t++) {
    rt.spawn(`t${t}`, t % cpus, function* (): KernelGen {
      for (let i = 0; i < per; i++) {
        if (depth === 0) yield;
        else yield* nested(depth);
      }
    });
  }
  return rt.run();
}

export function schedulerBenchmarks(): BenchResult[] {
  const switches = opsPerSecond((n) => {
    const r = runYields(n, 2, 1, alternating());
    if (r.contextSwitches < n - 2) throw new Error('expected a switch at every step');
  });
  const points = opsPerSecond((n) => runYields(n, 1, 1, 'in-order'));
  const nestedPoints = opsPerSecond((n) => runYields(n, 1, 1, 'in-order', 3));
  const random = opsPerSecond((n) => runYields(n, 4, 4, 'random'));
  return [
    {
      name: 'scheduler.context_switches_per_sec',
      value: switches.opsPerSec,
      unit: 'switches/s',
      better: 'higher',
      description:
        'Two tasks on one CPU, a strategy that alternates between them: every scheduling point switches the CPU to the other task (with a sched_switch tracepoint check and the virtual-time charge).',
      detail: { ops: switches.ops, bestMs: switches.bestMs },
    },
    {
      name: 'scheduler.scheduling_points_per_sec',
      value: points.opsPerSec,
      unit: 'points/s',
      better: 'higher',
      description:
        'One task yielding in a loop: the cost of a bare scheduling point with no decision.',
      detail: { ops: points.ops, bestMs: points.bestMs },
    },
    {
      name: 'scheduler.nested_scheduling_points_per_sec',
      value: nestedPoints.opsPerSec,
      unit: 'points/s',
      better: 'higher',
      description:
        'As above, but each yield goes through three nested yield* generator calls, as kernel code does.',
      detail: { ops: nestedPoints.ops, bestMs: nestedPoints.bestMs },
    },
    {
      name: 'scheduler.random_decisions_per_sec',
      value: random.opsPerSec,
      unit: 'decisions/s',
      better: 'higher',
      description:
        'Four tasks on four CPUs under the seeded random strategy, with the decision log recorded for the replay token.',
      detail: { ops: random.ops, bestMs: random.bestMs },
    },
  ];
}
