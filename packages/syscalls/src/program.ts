import { type Actor, createKernel, type Kernel, type KernelConfig } from '@mmsim/kernel';
import { type KernelGen, MmsimError, type RunResult, type Task } from '@mmsim/runtime';
import type { Cpuset } from './cpuset.js';
import type { Process } from './process.js';
import type { Sys } from './sys.js';
import { createUserland, type ThreadBody, type Userland } from './userland.js';

/**
 * Where a failed expectation happened: the process (name and pid), the thread (its index in
 * the process, or `fork`/`thread` children by the path of the step that started them), the
 * step (its path in the program, e.g. `steps[3].steps[1]`, with the loop iterations) and the
 * call or access it made.
 */
export interface ProgramStepRef {
  readonly process: string;
  readonly pid: number;
  readonly thread: string;
  readonly step: string;
  /** The system call (`move_pages`), or `read` / `write` / `wait` for the other steps. */
  readonly call: string;
}

/**
 * A failed expectation of a program: a step whose `expect` did not hold (`field` is `ret`,
 * `errno`, `value` or an out-parameter such as `status`), or an assertion a TypeScript
 * thread body threw (`field` is `assertion`, `expected` and `actual` what the assertion
 * error carried, `message` its message).
 */
export interface ExpectationFailure extends ProgramStepRef {
  readonly field: string;
  readonly expected: unknown;
  readonly actual: unknown;
  readonly message: string;
  /** The error a TypeScript body threw (kept for `runProgram` to throw again), if any. */
  readonly error?: unknown;
}

/**
 * The expectation failures of one machine's programs, in the order they happened. A step's
 * failed `expect` is recorded and the thread goes on (as LTP's `tst_res(TFAIL)` does). An
 * error a TypeScript body throws (vitest's `expect`) is recorded too; then, in mode
 * `throw` (the default), it propagates (the runtime ends the run, and `runProgram` /
 * `runScenario` throw the error itself, so a test fails with the assertion's message); in
 * mode `record` (set by exploration targets) the thread ends with exit status 1 and the
 * explorer reports an `expectation` finding.
 */
export class ProgramLedger {
  readonly failures: ExpectationFailure[] = [];
  mode: 'throw' | 'record' = 'throw';

  /** Records a failure. */
  fail(failure: ExpectationFailure): void {
    this.failures.push(failure);
  }

  /** True when `error` is an assertion error a program body threw (recorded here). */
  isAssertion(error: unknown): boolean {
    return error !== undefined && this.failures.some((f) => f.error === error);
  }
}

const LEDGERS = new WeakMap<Kernel, ProgramLedger>();

/** The expectation ledger of `kernel`'s programs (made on first use). */
export function programLedger(kernel: Kernel): ProgramLedger {
  let ledger = LEDGERS.get(kernel);
  if (ledger === undefined) {
    ledger = new ProgramLedger();
    LEDGERS.set(kernel, ledger);
  }
  return ledger;
}

/** The ledger of `kernel` if a program ran on it, else null (no allocation). */
export function programLedgerIfAny(kernel: Kernel): ProgramLedger | null {
  return LEDGERS.get(kernel) ?? null;
}

const USERLANDS = new WeakMap<Kernel, Userland>();

/**
 * The user space of `kernel` that programs share (made on first use): every `program` on one
 * machine lives in one process table, so pids are unique and one program's process may
 * name another's pid. Its threads run under `guardedBody`.
 */
export function userlandOf(kernel: Kernel): Userland {
  let user = USERLANDS.get(kernel);
  if (user === undefined) {
    const made = createUserland(kernel);
    const ledger = programLedger(kernel);
    // Every thread of this user space, the ones `sys.spawnThread` and `sys.fork` start
    // included, runs guarded: an assertion it throws is the program's, not a kernel crash.
    const spawn = made.spawnThread.bind(made);
    made.spawnThread = (process, cpu, body, name) =>
      spawn(
        process,
        cpu,
        guardedBody(ledger, { process, thread: `threads[${process.threads.length}]` }, body),
        name,
      );
    user = made;
    USERLANDS.set(kernel, user);
  }
  return user;
}

/** A thread of a program: its body, and optionally its CPU (default 0) and comm. */
export type ProgramThread =
  | ThreadBody
  | { readonly body: ThreadBody; readonly cpu?: number; readonly name?: string };

/** A process of a program, as `createProcess` takes it, with its threads. */
export interface ProgramProcess {
  readonly name: string;
  /** Default 0 (root, every capability). */
  readonly uid?: number;
  readonly gid?: number;
  /** Capabilities (effective and permitted); default all for uid 0, none otherwise. */
  readonly caps?: Iterable<number>;
  /** Its cpuset: one made on the userland, or `{ mems, memoryMigrate }` for a new one. */
  readonly cpuset?: Cpuset | { readonly mems: readonly number[]; readonly memoryMigrate?: boolean };
  /** At least one; the first thread's return value is the process's exit status. */
  readonly threads: readonly ProgramThread[];
}

/** A program: processes started together, as one actor. */
export interface ProgramSpec {
  /** The comm of the task that starts the threads; default `program`. */
  readonly name?: string;
  /** The CPU of that task; default the first thread's. */
  readonly cpu?: number;
  readonly processes: readonly ProgramProcess[];
}

/** A program built on a machine: the actor that starts it, and its processes (made at once). */
export interface Program {
  /** Spawn it (kernel.spawn, or in a scenario's `actors`): its one step starts every thread. */
  readonly actor: Actor;
  readonly userland: Userland;
  /** The processes, in the order of the spec; their pids are known before the run. */
  readonly processes: readonly Process[];
  readonly ledger: ProgramLedger;
}

function threadOf(t: ProgramThread): { body: ThreadBody; cpu: number; name?: string } {
  if (typeof t === 'function') return { body: t, cpu: 0 };
  if (typeof t !== 'object' || t === null || typeof t.body !== 'function') {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      'program: a thread is a generator function or { body, cpu?, name? }',
    );
  }
  return { body: t.body, cpu: t.cpu ?? 0, ...(t.name === undefined ? {} : { name: t.name }) };
}

/**
 * Wraps a thread body so that an error it throws that is not the model's (an `MmsimError` is
 * a kernel bug the model caught and stays a crash) is recorded as an `assertion` failure of
 * the program, then rethrown (mode `throw`) or ends the thread with status 1 (mode `record`).
 */
export function guardedBody(
  ledger: ProgramLedger,
  where: { readonly process: Process; readonly thread: string },
  body: ThreadBody,
): ThreadBody {
  return function* (sys: Sys): KernelGen<unknown> {
    try {
      return yield* body(sys);
    } catch (error) {
      if (error instanceof MmsimError) throw error;
      const e = error as { message?: unknown; expected?: unknown; actual?: unknown };
      const message = typeof e?.message === 'string' ? e.message : String(error);
      ledger.fail({
        process: where.process.comm,
        pid: where.process.pid,
        thread: where.thread,
        step: '(body)',
        call: 'assertion',
        field: 'assertion',
        expected: e?.expected,
        actual: e?.actual,
        message: message.split('\n')[0] as string,
        error,
      });
      if (ledger.mode === 'throw') throw error;
      return 1;
    }
  };
}

/**
 * A program written in TypeScript, the way a C test is written: processes (pid, uid,
 * capabilities, cpuset) whose threads are generator functions of a `Sys`
 * (`yield* sys.mmap(...)`, `yield* sys.write(addr, v)`, `yield* sys.fork(child)`), as one
 * actor for `kernel.spawn` or a scenario's `actors`. The processes are created at once, so
 * their pids are known before the run; the actor's one step starts every thread, and the
 * explorer interleaves them with everything else. `expect` of vitest works inside a body:
 * see `ProgramLedger` and `runProgram`.
 *
 * ```ts
 * const p = program(kernel, { processes: [{ name: 'test', threads: [function* (sys) {
 *   const buf = yield* sys.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
 *   yield* sys.write(buf, 7);
 *   expect(yield* sys.read(buf)).toBe(7);
 * }] }] });
 * kernel.spawn(p.actor);
 * ```
 */
export function program(kernel: Kernel, spec: ProgramSpec): Program {
  if (typeof spec !== 'object' || spec === null || !Array.isArray(spec.processes)) {
    throw new MmsimError('INVALID_ARGUMENT', 'program: spec must be { processes: [...] }');
  }
  if (spec.processes.length === 0) {
    throw new MmsimError('INVALID_ARGUMENT', 'program: list at least one process');
  }
  const userland = userlandOf(kernel);
  const ledger = programLedger(kernel);
  const started: { process: Process; threads: ReturnType<typeof threadOf>[] }[] = [];
  for (const p of spec.processes) {
    if (!Array.isArray(p.threads) || p.threads.length === 0) {
      throw new MmsimError('INVALID_ARGUMENT', `program: process ${p.name} has no threads`);
    }
    const threads = p.threads.map(threadOf);
    const cpus = kernel.rt.cpus.length;
    for (const t of threads) {
      if (!Number.isInteger(t.cpu) || t.cpu < 0 || t.cpu >= cpus) {
        throw new MmsimError(
          'INVALID_ARGUMENT',
          `program: a thread of ${p.name} is on CPU ${String(t.cpu)}, but the machine has CPUs 0..${cpus - 1}`,
        );
      }
    }
    const cpuset =
      p.cpuset === undefined
        ? undefined
        : 'name' in p.cpuset
          ? (p.cpuset as Cpuset)
          : userland.createCpuset(`${p.name}-${userland.cpusets.length}`, {
              mems: p.cpuset.mems,
              memoryMigrate: p.cpuset.memoryMigrate ?? false,
            });
    const process = userland.createProcess({
      name: p.name,
      ...(p.uid === undefined ? {} : { uid: p.uid }),
      ...(p.gid === undefined ? {} : { gid: p.gid }),
      ...(p.caps === undefined ? {} : { caps: p.caps }),
      ...(cpuset === undefined ? {} : { cpuset }),
    });
    started.push({ process, threads });
  }
  const first = started[0]?.threads[0];
  const actor: Actor = {
    name: spec.name ?? 'program',
    cpu: spec.cpu ?? first?.cpu ?? 0,
    models: 'a user program: execve of its processes, then clone of their threads',
    *body(_task: Task) {
      for (const { process, threads } of started) {
        for (const t of threads) userland.spawnThread(process, t.cpu, t.body, t.name);
      }
    },
  };
  return { actor, userland, processes: started.map((s) => s.process), ledger };
}

/** What `runProgram` returns. */
export interface ProgramRun {
  readonly kernel: Kernel;
  readonly program: Program;
  readonly result: RunResult;
}

/**
 * Builds a machine from `config`, runs `spec` on it once and returns the result. An assertion
 * a body threw (vitest's `expect`) is thrown again as it was, so the test fails with its
 * message; a failed step expectation of a program written as data throws an `Error`
 * saying expected and actual; a kernel bug the model caught stays an `MmsimError`.
 */
export function runProgram(config: KernelConfig, spec: ProgramSpec): ProgramRun {
  const kernel = createKernel(config);
  const p = program(kernel, spec);
  kernel.spawn(p.actor);
  let result: RunResult;
  try {
    result = kernel.run();
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    if (error instanceof MmsimError && p.ledger.isAssertion(cause)) throw cause;
    throw error;
  }
  const failed = p.ledger.failures[0];
  if (failed !== undefined) {
    if (failed.error !== undefined) throw failed.error;
    throw new Error(formatExpectationFailure(failed));
  }
  return { kernel, program: p, result };
}

function show(v: unknown): string {
  if (v === undefined) return '(nothing)';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A failed expectation as text: where, then expected and actual. */
export function formatExpectationFailure(f: ExpectationFailure): string {
  const where = `${f.process} (pid ${f.pid}) thread ${f.thread}, ${f.step}: ${f.call}`;
  if (f.field === 'assertion') return `${where}: ${f.message}`;
  return [
    `${where}: ${f.field}`,
    `  expected: ${show(f.expected)}`,
    `  actual:   ${show(f.actual)}`,
  ].join('\n');
}
