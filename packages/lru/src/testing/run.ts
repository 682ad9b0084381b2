import type { KernelGen, RunResult, Runtime, Task } from '@mmsim/runtime';

/** Anything that carries the runtime it runs on (every fixture machine does). */
export interface HasRuntime {
  readonly rt: Runtime;
}

/** Spawns `body` as a task named `name` on `cpu`. */
export function spawn(
  m: HasRuntime,
  name: string,
  cpu: number,
  body: () => KernelGen<unknown>,
): Task {
  return m.rt.spawn(name, cpu, body);
}

/** Runs `body` as a task on `cpu` from the calling task, and returns its result. */
export function* onCpu<T>(rt: Runtime, cpu: number, body: () => KernelGen<T>): KernelGen<T> {
  const task = rt.spawn(`op-cpu${cpu}`, cpu, body);
  return (yield* rt.join(task)) as T;
}

/**
 * Runs the machine; throws (a plain Error, naming the deadlock if there is one) unless
 * every task completed, so that a hang fails the test that caused it.
 */
export function runAll(m: HasRuntime): RunResult {
  const result = m.rt.run();
  if (result.status !== 'completed') {
    throw new Error(`run ended ${result.status}: ${JSON.stringify(result.deadlock, null, 1)}`);
  }
  return result;
}

/** Runs `script` as a driver task on CPU 0, then the machine, as `runAll` does. */
export function runScript(m: HasRuntime, script: () => KernelGen<void>): RunResult {
  m.rt.spawn('driver', 0, script);
  return runAll(m);
}
