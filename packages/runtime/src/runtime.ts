import { type CostModel, resolveCosts } from './costs.js';
import { type DeadlockReport, findDeadlock } from './deadlock.js';
import { MmsimError } from './errors.js';
import { registerFatalSignalSite } from './fatal-signal.js';
import { type FaultPoint, FaultPoints } from './fault-points.js';
import { FIRST_OBJECT_ID, type FootprintLog, kernelObjectId } from './footprint.js';
import { FunctionTracer } from './function-tracer.js';
import { mightSleep } from './might-sleep.js';
import { createRandomStreams, MAX_SEED, type RandomStreams } from './random.js';
import {
  DecisionLog,
  type DecisionPairs,
  decodeReplayToken,
  encodeReplayToken,
} from './replay-token.js';
import type { Resource } from './resource.js';
import { createStrategy, type StrategySpec } from './strategies/create.js';
import { ReplayStrategy } from './strategies/replay.js';
import type { Strategy } from './strategies/strategy.js';
import { Cpu, type KernelGen, Task, type TaskBody } from './task.js';
import { TraceBus, type Tracepoint, traceEvent } from './tracepoint.js';

export interface RuntimeConfig {
  /** Number of CPUs. Default 1. */
  readonly cpus?: number;
  /** NUMA node of each CPU (length `cpus`). Default: all on node 0. */
  readonly cpuNodes?: readonly number[];
  /** Seed of every random stream. Default 1. A replay token brings its own. */
  readonly seed?: number;
  /** Who runs at each decision. Default `'in-order'`. */
  readonly strategy?: StrategySpec;
  /** Overrides of the default costs. */
  readonly costs?: Partial<CostModel>;
  /** Scheduling points after which the run stops as `step-limit`. Default 100 million. */
  readonly maxSteps?: number;
  /** Free text carried in the replay token (scenario, variant...). */
  readonly meta?: string;
  /**
   * Called after every scheduling step with the task that just ran (an explorer checks
   * its invariants here). Throwing from it ends the run with that error.
   */
  readonly onStep?: (task: Task, step: number) => void;
  /**
   * Records every step's footprint (what it touched) here, for partial-order reduction.
   * Default null: nothing is recorded.
   */
  readonly footprints?: FootprintLog | null;
  /**
   * The program declares every access to state its tasks share: through the runtime's
   * locks and wait queues, or `Runtime.touch`. Without it (the default) every recorded
   * step is also marked global (dependent with every other step), the sound default for
   * kernel code whose folio, page-table and counter accesses are not recorded.
   */
  readonly declaredFootprints?: boolean;
}

/**
 * Told when a CPU starts running a task other than the one that ran there last: the
 * scheduler's `context_switch` (kernel/sched/core.c, 6.3), which hands the address spaces
 * to the architecture (`switch_mm_irqs_off`, or `enter_lazy_tlb` for a kernel thread).
 * `prev` is the task that ran there before, null for the CPU's first task (the model has
 * no idle task: a CPU whose task has ended keeps what that task had loaded until another
 * task runs there). Runs between two steps, with no current task; it must not yield or
 * block. The runtime knows nothing of address spaces: the layer that does (rmap) is
 * wired in by whoever composes the machine, with `Runtime.setContextSwitchHook`.
 */
export type ContextSwitchHook = (cpu: Cpu, prev: Task | null, next: Task) => void;

export type RunStatus = 'completed' | 'deadlock' | 'step-limit';

export interface RunResult {
  readonly status: RunStatus;
  /** Set when status is `deadlock`. */
  readonly deadlock: DeadlockReport | null;
  /** Scheduling points executed. */
  readonly steps: number;
  /** Points where two or more tasks could run. */
  readonly decisions: number;
  /** Times a CPU switched from one task to another. */
  readonly contextSwitches: number;
  /** Replaying this token gives the same run. */
  readonly replayToken: string;
  /** Each CPU's virtual clock at the end, in ns. */
  readonly cpuClocks: readonly number[];
  /** The latest CPU clock: the run's virtual duration in ns. */
  readonly virtualTimeNs: number;
  readonly strategy: string;
  readonly seed: number;
}

interface SchedSwitch {
  prev_comm: string;
  prev_pid: number;
  /** `__trace_sched_switch_state()`: one of the `TASK_STATE_*` report values below. */
  prev_state: number;
  next_comm: string;
  next_pid: number;
}

/**
 * The `prev_state` values of `sched_switch` as `__trace_sched_switch_state()` reports them
 * (include/trace/events/sched.h, 6.3): `1 << (task_state_index() - 1)` for a task that
 * gave up its CPU, TASK_REPORT_MAX (0x100) for a preempted one ("R+"), 0 ("R") for the
 * idle task. The model's sleeps are all TASK_UNINTERRUPTIBLE (D; a killable sleep,
 * TASK_WAKEKILL | TASK_UNINTERRUPTIBLE, reports D too) and its tasks end as EXIT_DEAD (X):
 * kthreads are reaped by kthreadd, which ignores SIGCHLD, and non-leader threads autoreap
 * (exit_notify, kernel/exit.c).
 */
export const TASK_STATE_RUNNING = 0;
export const TASK_STATE_INTERRUPTIBLE = 0x1;
export const TASK_STATE_UNINTERRUPTIBLE = 0x2;
export const TASK_STATE_EXIT_DEAD = 0x10;
export const TASK_STATE_PREEMPTED = 0x100;

/** `prev_state=%s%s` of sched_switch (6.3): the state letter, `+` when preempted. */
function prevStateString(state: number): string {
  if (state === TASK_STATE_PREEMPTED) return 'R+';
  if (state === TASK_STATE_INTERRUPTIBLE) return 'S';
  if (state === TASK_STATE_UNINTERRUPTIBLE) return 'D';
  if (state === TASK_STATE_EXIT_DEAD) return 'X';
  return 'R';
}
interface SchedWakeup {
  comm: string;
  pid: number;
  target_cpu: number;
}

/**
 * `sched_switch` (include/trace/events/sched.h, 6.3), emitted by the task being switched
 * out (the idle task `swapper/N`, pid 0, when the CPU was idle), as `__schedule()` does.
 * The model has no priorities: prio prints 120.
 */
const SCHED_SWITCH = traceEvent<SchedSwitch>(
  'sched_switch',
  (f) =>
    `prev_comm=${f.prev_comm} prev_pid=${f.prev_pid} prev_prio=120 prev_state=${prevStateString(f.prev_state)} ==> ` +
    `next_comm=${f.next_comm} next_pid=${f.next_pid} next_prio=120`,
);

/** `sched_wakeup` (include/trace/events/sched.h, 6.3): `comm=%s pid=%d prio=%d target_cpu=%03d`. */
const SCHED_WAKEUP = traceEvent<SchedWakeup>(
  'sched_wakeup',
  (f) => `comm=${f.comm} pid=${f.pid} prio=120 target_cpu=${String(f.target_cpu).padStart(3, '0')}`,
);

/**
 * The deterministic kernel runtime: tasks (generators) on simulated CPUs, one chosen at
 * every scheduling point by a strategy, with per-CPU virtual clocks.
 *
 * Kernel code is written as generator functions. `yield` is a point where another CPU may
 * interleave; a function that may sleep is a generator called with `yield*`; an atomic
 * operation is a plain function. Sleeping goes through `blockCurrent()` (used by wait
 * queues and locks) followed by `yield`.
 */
export class Runtime {
  readonly cpus: readonly Cpu[];
  readonly costs: CostModel;
  readonly random: RandomStreams;
  readonly trace: TraceBus;
  readonly faults: FaultPoints;
  /** The fault site `signal.fatal_signal_pending` (fatal-signal.ts: `fatalSignalPending`). */
  readonly fatalSignalSite: FaultPoint;
  /** Kernel-function entry / exit events (funcgraph_entry / funcgraph_exit). */
  readonly functions: FunctionTracer;
  readonly strategy: Strategy;
  readonly meta: string;
  readonly maxSteps: number;
  readonly #onStep: ((task: Task, step: number) => void) | null;
  /** Where step footprints go, or null when they are not recorded. */
  readonly footprints: FootprintLog | null;
  readonly #declaredFootprints: boolean;
  #objectIds = FIRST_OBJECT_ID;
  #contextSwitchHook: ContextSwitchHook | null = null;

  /** The task whose code is running, or null between steps and before the run. */
  currentTask: Task | null = null;

  readonly #tasks: Task[] = [];
  /** Runnable tasks sorted by id. */
  readonly #runnable: Task[] = [];
  /** Tasks in a timed sleep, sorted by (wakeAt, id). */
  readonly #timed: Task[] = [];
  readonly #log = new DecisionLog();
  readonly #eligible: Task[] = [];
  #atomicCpus = 0;
  /** Whether the running step's task had preemption disabled when the step began. */
  #stepWasAtomic = false;
  /** The task a virtual step chose for the next round (the caller yields next), or null. */
  #preChosen: Task | null = null;
  /**
   * The step hook was told of the running step's end at a virtual step that then declined
   * (the caller yields next): the round that follows the `yield` does not tell it again.
   */
  #stepReported = false;
  /** What the step hook threw at a virtual step: thrown once the caller has yielded. */
  #hookError: { readonly error: unknown } | null = null;
  #steps = 0;
  #switches = 0;
  #phase: 'new' | 'running' | 'ended' = 'new';
  readonly #schedSwitch: Tracepoint<SchedSwitch>;
  readonly #schedWakeup: Tracepoint<SchedWakeup>;

  constructor(config: RuntimeConfig = {}) {
    const cpus = config.cpus ?? 1;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > 4096) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `cpus must be an integer in [1, 4096], got ${String(cpus)}`,
      );
    }
    const nodes = config.cpuNodes ?? new Array<number>(cpus).fill(0);
    if (nodes.length !== cpus) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `cpuNodes must list one node per CPU (${cpus}), got ${nodes.length}`,
      );
    }
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i];
      if (!Number.isInteger(node) || (node as number) < 0 || (node as number) > 1023) {
        throw new MmsimError(
          'INVALID_CONFIG',
          `cpuNodes[${i}] must be a node id in [0, 1023], got ${String(node)}`,
        );
      }
    }
    const maxSteps = config.maxSteps ?? 100_000_000;
    if (!Number.isInteger(maxSteps) || maxSteps < 1) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `maxSteps must be a positive integer, got ${String(maxSteps)}`,
      );
    }
    const spec = config.strategy ?? 'in-order';
    let seed = config.seed ?? 1;
    let strategy: Strategy;
    if (typeof spec === 'object' && 'kind' in spec && spec.kind === 'replay') {
      const data = decodeReplayToken(spec.token);
      if (config.seed !== undefined && config.seed !== data.seed) {
        throw new MmsimError(
          'INVALID_CONFIG',
          `seed ${config.seed} differs from the replay token's seed ${data.seed}; leave seed out when replaying`,
        );
      }
      seed = data.seed;
      strategy = new ReplayStrategy(data.pairs);
    } else {
      if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
        throw new MmsimError(
          'INVALID_CONFIG',
          `seed must be an integer in [0, ${MAX_SEED}], got ${String(seed)}`,
        );
      }
      strategy = createStrategy(spec);
    }
    this.costs = resolveCosts(config.costs);
    const cpuList: Cpu[] = [];
    for (let id = 0; id < cpus; id++) cpuList.push(new Cpu(id, nodes[id] as number));
    this.cpus = cpuList;
    this.random = createRandomStreams(seed);
    this.trace = new TraceBus(this);
    this.faults = new FaultPoints(this.random.faults, this);
    this.fatalSignalSite = registerFatalSignalSite(this.faults);
    this.functions = new FunctionTracer(this.trace);
    this.strategy = strategy;
    this.meta = config.meta ?? '';
    this.maxSteps = maxSteps;
    this.#onStep = config.onStep ?? null;
    this.footprints = config.footprints ?? null;
    this.#declaredFootprints = config.declaredFootprints === true;
    this.#schedSwitch = this.trace.define(SCHED_SWITCH);
    this.#schedWakeup = this.trace.define(SCHED_WAKEUP);
  }

  /** The running task; throws `NO_CURRENT_TASK` outside one. */
  get current(): Task {
    const task = this.currentTask;
    if (task === null) {
      throw new MmsimError(
        'NO_CURRENT_TASK',
        'this kernel primitive must be called from a running task',
      );
    }
    return task;
  }

  /** Every task created so far, in id order. */
  get tasks(): readonly Task[] {
    return this.#tasks;
  }

  /** The task with that id, or undefined. */
  taskById(id: number): Task | undefined {
    return this.#tasks[id - 1];
  }

  /**
   * Creates a task on `cpu`. It may be called before or during the run. With
   * `declaredFootprints`, the task starts inside a declared-footprint scope (see
   * `enterDeclaredScope`): its body declares every shared access it makes, from its first step.
   */
  spawn(name: string, cpu: number, body: TaskBody, declaredFootprints = false): Task {
    if (this.#phase === 'ended') {
      throw new MmsimError('INVALID_STATE', 'the run has ended; create a new Runtime');
    }
    const c = this.cpus[cpu];
    if (c === undefined || !Number.isInteger(cpu)) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `cpu must be in [0, ${this.cpus.length - 1}], got ${String(cpu)}`,
      );
    }
    const task = new Task(this.#tasks.length + 1, name, c);
    // A body that declares every access it makes starts inside a declared-footprint scope.
    if (declaredFootprints) task.declaredScope = 1;
    task.gen = body(task);
    this.#tasks.push(task);
    this.#runnable.push(task); // ids only grow, so the array stays sorted
    // A task created by a running task starts no earlier than its creator's time.
    const parent = this.currentTask;
    if (parent !== null && c.clock < parent.cpu.clock) c.clock = parent.cpu.clock;
    // Created during a step: the creation happens before the new task's first step.
    if (this.footprints !== null) this.footprints.touch(task.id, true);
    this.strategy.onSpawn?.(task);
    return task;
  }

  /**
   * Sets the function told of every context switch (see `ContextSwitchHook`); one per
   * runtime. Setting a second one throws INVALID_STATE; null removes it.
   */
  setContextSwitchHook(hook: ContextSwitchHook | null): void {
    if (hook !== null && typeof hook !== 'function') {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `the context-switch hook must be a function or null, got ${typeof hook}`,
      );
    }
    if (hook !== null && this.#contextSwitchHook !== null) {
      throw new MmsimError(
        'INVALID_STATE',
        'this runtime already has a context-switch hook (one layer keeps the address spaces)',
      );
    }
    this.#contextSwitchHook = hook;
  }

  /** A fresh object id for footprints (locks and wait queues take one when built). */
  newObjectId(): number {
    return this.#objectIds++;
  }

  /**
   * Records that the running step reads (or, with `write`, writes) object `id` (from
   * `newObjectId`). A no-op unless footprints are recorded.
   */
  touch(id: number, write: boolean): void {
    const log = this.footprints;
    if (log !== null) log.touch(id, write);
  }

  /** Marks the running step dependent with every step. A no-op unless footprints are recorded. */
  touchAll(): void {
    const log = this.footprints;
    if (log !== null) log.touchAll();
  }

  /**
   * Records that the running step reads (or, with `write`, writes) the kernel-model object
   * `key` of `kind` (`FP_FOLIO` ..., see `kernelObjectId`). A no-op unless footprints are
   * recorded; it allocates nothing.
   */
  touchKernel(kind: number, key: number, write: boolean): void {
    const log = this.footprints;
    if (log !== null) log.touch(kernelObjectId(kind, key), write);
  }

  /**
   * The running task enters code that declares every access to shared state it makes
   * (runtime locks, wait queues, `touch`, `touchKernel`). In a runtime without
   * `declaredFootprints`, a step is global (dependent with every step) unless its task
   * was inside such a scope for the whole step: it began inside one, and it did not leave
   * the outermost one before its next scheduling point. Scopes nest.
   */
  enterDeclaredScope(): void {
    this.current.declaredScope++;
  }

  /**
   * Leaves the scope `enterDeclaredScope` entered. Leaving the outermost one makes the
   * running step global: what the task runs next is not known to be declared.
   */
  exitDeclaredScope(): void {
    const task = this.current;
    if (task.declaredScope <= 0) {
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `${task} leaves a declared-footprint scope it did not enter`,
      );
    }
    if (--task.declaredScope === 0 && this.footprints !== null) this.footprints.touchAll();
  }

  /**
   * Declared code calls code that does not declare its accesses (an allocation, a last
   * put that frees): the running task leaves every declared-footprint scope it is in,
   * which makes this step and every step until `resumeDeclaredScope` global. Returns the
   * depth to give `resumeDeclaredScope`.
   */
  suspendDeclaredScope(): number {
    const task = this.current;
    const depth = task.declaredScope;
    if (depth > 0) {
      task.declaredScope = 0;
      if (this.footprints !== null) this.footprints.touchAll();
    }
    return depth;
  }

  /** Re-enters the scopes `suspendDeclaredScope` left (the step doing it stays global). */
  resumeDeclaredScope(depth: number): void {
    this.current.declaredScope = depth;
  }

  /** Advances the current CPU's virtual clock by `ns`. */
  charge(ns: number): void {
    const task = this.currentTask;
    if (task !== null) task.cpu.clock += ns;
  }

  /**
   * Marks the current task asleep on `resource`, in the kernel function `waitsIn`. The
   * caller must have queued itself where a waker will find it, and must `yield` next.
   * Sleeping with preemption disabled (a spinlock held) is a bug and throws.
   * A `killable` sleep (TASK_KILLABLE) also ends when the task gets a fatal signal; the
   * sleeper then finds `task.fatalSignalPending` set and must dequeue itself.
   */
  blockCurrent(waitsIn: string, resource: Resource, killable = false): void {
    const task = this.current;
    // The message is built only when the check fails (a sleep is a hot path).
    if (task.preemptCount > 0) mightSleep(task, `${waitsIn} (sleeping on ${resource.name})`);
    // signal_pending_state(): a killable sleeper with a fatal signal already pending does
    // not sleep; its next `yield` is a plain scheduling point and it finds the signal.
    if (killable && task.fatalSignalPending) return;
    this.#block(task, waitsIn, resource);
    task.killable = killable;
  }

  /**
   * Sends a fatal signal (SIGKILL) to `task`: sets `fatalSignalPending` and wakes it if
   * it sleeps killable. Uninterruptible sleeps are not disturbed.
   */
  sendFatalSignal(task: Task): void {
    if (this.footprints !== null) this.footprints.touch(task.id, true);
    task.fatalSignalPending = true;
    if (task.state === 'sleeping' && task.killable) this.wake(task);
  }

  /** @internal A spinning task waits with preemption disabled; only spinlocks use this. */
  blockSpinning(waitsIn: string, resource: Resource): void {
    this.#block(this.current, waitsIn, resource);
  }

  #block(task: Task, waitsIn: string, resource: Resource): void {
    task.killable = false;
    task.state = 'sleeping';
    task.waiting = { waitsIn, resource };
    this.#removeRunnable(task);
  }

  /**
   * Makes a sleeping task runnable (try_to_wake_up). Its CPU clock moves up to the
   * waker's time, plus the wake-up cost when it is another CPU. Returns false when the
   * task was not asleep.
   */
  wake(task: Task): boolean {
    if (task.state !== 'sleeping') return false;
    if (this.footprints !== null) this.footprints.touch(task.id, true);
    // A spinner handed its lock never slept: the kernel traces no wake-up for it.
    const spinning = task.preemptCount > 0;
    task.state = 'runnable';
    task.waiting = null;
    const waker = this.currentTask;
    if (waker !== null) {
      const at = waker.cpu.clock + (waker.cpu === task.cpu ? 0 : this.costs.wakeup);
      if (task.cpu.clock < at) task.cpu.clock = at;
    }
    this.#insertRunnable(task);
    if (this.#schedWakeup.enabled && !spinning) {
      this.#schedWakeup.emit({ comm: task.name, pid: task.id, target_cpu: task.cpu.id });
    }
    return true;
  }

  /** Sleeps the current task for `ns` of virtual time (an I/O latency, msleep). */
  *sleepFor(ns: number): KernelGen {
    const task = this.current;
    if (!(ns >= 0) || !Number.isFinite(ns)) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `sleepFor needs a finite ns >= 0, got ${String(ns)}`,
      );
    }
    if (task.preemptCount > 0) mightSleep(task, `sleepFor(${ns} ns)`);
    // Timers fire by virtual time, which every step moves: a timed sleep orders with all.
    if (this.footprints !== null) this.footprints.touchAll();
    task.state = 'timed';
    task.wakeAt = task.cpu.clock + ns;
    this.#removeRunnable(task);
    let i = this.#timed.length;
    while (i > 0) {
      const other = this.#timed[i - 1] as Task;
      if (other.wakeAt < task.wakeAt || (other.wakeAt === task.wakeAt && other.id < task.id)) break;
      i--;
    }
    this.#timed.splice(i, 0, task);
    yield;
  }

  /** Waits until `task` has ended; returns what its body returned. */
  *join(task: Task): KernelGen<unknown> {
    const me = this.current;
    if (task === me) throw new MmsimError('CONTRACT_VIOLATION', `${me} cannot join itself`);
    if (this.footprints !== null) this.footprints.touch(task.id, false);
    if (task.state !== 'done') {
      if (task.joiners === null) task.joiners = [];
      task.joiners.push(me);
      this.blockCurrent('kthread_stop', { name: `exit of ${task}`, holders: () => [task] });
      yield;
    }
    return task.result;
  }

  /**
   * Runs until every task has ended, no task can run (a deadlock), or `maxSteps`
   * scheduling points have passed. A task whose code throws ends the run with that error
   * (an unexpected exception is wrapped as `TASK_CRASHED`).
   */
  run(): RunResult {
    if (this.#phase !== 'new') throw new MmsimError('INVALID_STATE', 'a Runtime runs once');
    this.#phase = 'running';
    this.strategy.init?.(this.random.schedule);
    let status: RunStatus = 'completed';
    let deadlock: DeadlockReport | null = null;
    try {
      for (;;) {
        if (this.#timed.length > 0) this.#fireTimers();
        const runnable = this.#runnable;
        if (runnable.length === 0) {
          const sleeping = this.#tasks.filter((t) => t.state === 'sleeping');
          if (sleeping.length > 0) {
            status = 'deadlock';
            deadlock = findDeadlock(sleeping);
          }
          break;
        }
        if (this.#steps >= this.maxSteps) {
          status = 'step-limit';
          break;
        }
        const preChosen = this.#preChosen;
        this.#preChosen = null;
        const task = preChosen ?? this.#pick(runnable);
        this.#step(task);
      }
    } finally {
      this.currentTask = null;
      this.#phase = 'ended';
      this.strategy.finish?.();
    }
    if (this.strategy instanceof ReplayStrategy && !this.strategy.exhausted) {
      throw new MmsimError(
        'REPLAY_DIVERGED',
        'the run ended before using every decision of the replay token; the token belongs to another run',
      );
    }
    return this.#result(status, deadlock);
  }

  #pick(runnable: Task[]): Task {
    let eligible = runnable;
    if (this.#atomicCpus > 0) {
      eligible = this.#eligible;
      // Emptied by `pop`: a store to `length` is a call into the V8 runtime.
      while (eligible.length > 0) eligible.pop();
      for (const t of runnable) {
        const owner = t.cpu.atomicTask;
        if (owner === null || owner === t) eligible.push(t);
      }
    }
    if (eligible.length === 1) return eligible[0] as Task;
    const chosen = this.strategy.choose(eligible, this.#log.length);
    this.#log.record(chosen.id);
    return chosen;
  }

  #step(task: Task): void {
    const cpu = task.cpu;
    if (cpu.lastTask !== task) {
      const prev = cpu.lastTask;
      if (this.#contextSwitchHook !== null) this.#contextSwitchHook(cpu, prev, task);
      if (prev !== null) {
        this.#switches++;
        cpu.clock += this.costs.contextSwitch;
      }
      cpu.lastTask = task;
    }
    if (this.#schedSwitch.enabled && cpu.traced !== task) this.#traceSwitch(cpu, task);
    this.currentTask = task;
    this.#steps++;
    const log = this.footprints;
    if (log !== null) {
      log.begin(
        task.id,
        cpu.id,
        (!this.#declaredFootprints && task.declaredScope === 0) || this.#timed.length > 0,
      );
    }
    this.#stepWasAtomic = task.preemptCount > 0;
    let done: boolean | undefined;
    let value: unknown;
    try {
      const r = (task.gen as KernelGen<unknown>).next();
      done = r.done;
      value = r.value;
    } catch (error) {
      if (error instanceof MmsimError) throw error;
      throw new MmsimError('TASK_CRASHED', `task ${task} threw: ${String(error)}`, {
        cause: error,
      });
    }
    this.#endAtomic(task);
    if (done) this.#exit(task, value);
    if (log !== null) log.end();
    // A task that slept or ended gives its CPU to the idle task (the trace's view only).
    // A spinner (waiting with preemption disabled) keeps its CPU: it spins, it does not sleep.
    if (
      this.#schedSwitch.enabled &&
      task.state !== 'runnable' &&
      cpu.traced === task &&
      task.preemptCount === 0
    ) {
      this.#traceSwitch(cpu, null);
    }
    this.currentTask = null;
    if (this.#stepReported) {
      // A virtual step already told the hook of this step's end.
      this.#stepReported = false;
      const failed = this.#hookError;
      if (failed !== null) {
        this.#hookError = null;
        throw failed.error;
      }
    } else if (this.#onStep !== null) {
      this.#onStep(task, this.#steps);
    }
  }

  /** The end of a step: `task`'s CPU is reserved for it while its preemption is disabled. */
  #endAtomic(task: Task): void {
    const isAtomic = task.preemptCount > 0;
    if (isAtomic !== this.#stepWasAtomic) {
      task.cpu.atomicTask = isAtomic ? task : null;
      this.#atomicCpus += isAtomic ? 1 : -1;
      this.#stepWasAtomic = isAtomic;
    }
  }

  /**
   * A scheduling point taken without suspending the running task: the end of its step and
   * the start of its next one, as `yield` followed by the next scheduling round would do
   * when that round runs the same task again. The step count, the step limit, the
   * decisions (and so the replay token) are those of the `yield`. Use it as
   * `if (!rt.virtualStep()) yield;` at a point where the kernel may reschedule
   * (`cond_resched()`), so that code can run on as plain calls when nothing switches.
   *
   * A step hook (`RuntimeConfig.onStep`) is told of the step's end here, between the end of
   * the step and the decision, with no current task, as the round would tell it; what it
   * throws is thrown from the run once the caller has yielded, as if the hook had thrown
   * after the `yield`.
   *
   * Returns true when the step was taken. Returns false, and the caller must `yield` at
   * once, when a real round is needed: a timed sleep is pending, footprints are recorded,
   * `sched_switch` is traced, the step limit is reached, the task is no longer runnable,
   * another task can run and the strategy cannot decide mid-step
   * (`Strategy.choosesAnywhere`) or chose another task (that decision is kept for the
   * round that follows the `yield`, so nothing is asked twice), or the step hook threw.
   */
  virtualStep(): boolean {
    const task = this.currentTask;
    if (
      task === null ||
      task.state !== 'runnable' ||
      this.#timed.length > 0 ||
      this.footprints !== null ||
      this.#schedSwitch.enabled ||
      this.#preChosen !== null ||
      this.#stepReported ||
      this.#steps >= this.maxSteps
    ) {
      return false;
    }
    const runnable = this.#runnable;
    const alone = runnable.length === 1 && this.#atomicCpus === 0;
    if (!alone && this.strategy.choosesAnywhere !== true) return false;
    this.#endAtomic(task);
    const onStep = this.#onStep;
    if (onStep !== null) {
      // The end of the step as the round after a `yield` reports it: no task is current.
      this.currentTask = null;
      try {
        onStep(task, this.#steps);
      } catch (error) {
        this.#stepReported = true;
        this.#hookError = { error };
        this.currentTask = task;
        return false;
      }
      this.currentTask = task;
    }
    if (!alone) {
      const next = this.#pick(runnable);
      if (next !== task) {
        this.#preChosen = next;
        this.#stepReported = onStep !== null;
        return false;
      }
    }
    this.#steps++;
    return true;
  }

  /**
   * Emits the `sched_switch` from what the trace shows on `cpu` to `next` (null: the idle
   * task). The runtime's own bookkeeping (`lastTask`, context-switch costs and hooks) keeps
   * the previous task loaded on an idle CPU, as a lazy-TLB CPU does; the trace shows the
   * CPU idle, as the kernel's trace does.
   */
  #traceSwitch(cpu: Cpu, next: Task | null): void {
    const prev = cpu.traced;
    this.#schedSwitch.emitOn(cpu, prev, {
      prev_comm: prev === null ? `swapper/${cpu.id}` : prev.name,
      prev_pid: prev === null ? 0 : prev.id,
      prev_state: prev === null ? TASK_STATE_RUNNING : prevState(prev),
      next_comm: next === null ? `swapper/${cpu.id}` : next.name,
      next_pid: next === null ? 0 : next.id,
    });
    cpu.traced = next;
  }

  #exit(task: Task, value: unknown): void {
    if (task.preemptCount > 0 || task.held.length > 0) {
      const held = task.held.map((r) => r.name).join(', ');
      throw new MmsimError(
        'CONTRACT_VIOLATION',
        `${task} ended holding ${held || 'a spinlock'} (preempt_count ${task.preemptCount})`,
      );
    }
    task.state = 'done';
    task.result = value;
    task.gen = null;
    this.#removeRunnable(task);
    for (const joiner of task.joiners ?? []) this.wake(joiner);
    task.joiners = null;
  }

  /** Ends timed sleeps that are due: no runnable CPU is behind their wake-up time. */
  #fireTimers(): void {
    let horizon = Number.POSITIVE_INFINITY;
    for (const t of this.#runnable) if (t.cpu.clock < horizon) horizon = t.cpu.clock;
    const timed = this.#timed;
    if (horizon === Number.POSITIVE_INFINITY) horizon = (timed[0] as Task).wakeAt;
    while (timed.length > 0 && (timed[0] as Task).wakeAt <= horizon) {
      const task = timed.shift() as Task;
      task.state = 'runnable';
      if (task.cpu.clock < task.wakeAt) task.cpu.clock = task.wakeAt;
      this.#insertRunnable(task);
      // The timer's wake-up runs in interrupt context on the sleeper's CPU, as whatever
      // task (or the idle task) runs there.
      if (this.#schedWakeup.enabled) {
        this.#schedWakeup.emitOn(task.cpu, task.cpu.traced, {
          comm: task.name,
          pid: task.id,
          target_cpu: task.cpu.id,
        });
      }
    }
  }

  /**
   * Puts `task` in the runnable list at its place by id. The list holds a few tasks and
   * changes at every sleep and wake-up: the elements are moved by hand, since `splice`
   * allocates the array of the removed elements (an empty one here) at every call.
   */
  #insertRunnable(task: Task): void {
    const list = this.#runnable;
    let i = list.length;
    list.push(task);
    while (i > 0) {
      const before = list[i - 1] as Task;
      if (before.id <= task.id) break;
      list[i] = before;
      i--;
    }
    list[i] = task;
  }

  /** Takes `task` out of the runnable list, if it is there (see `#insertRunnable`). */
  #removeRunnable(task: Task): void {
    const list = this.#runnable;
    const n = list.length;
    let i = 0;
    while (i < n && list[i] !== task) i++;
    if (i === n) return;
    for (; i < n - 1; i++) list[i] = list[i + 1] as Task;
    list.pop();
  }

  #result(status: RunStatus, deadlock: DeadlockReport | null): RunResult {
    // A runtime runs once: the decisions are final.
    const pairs = this.#log.finish();
    return new FinishedRun(
      status,
      deadlock,
      this.#steps,
      this.#log.length,
      this.#switches,
      this.cpus,
      this.strategy.name,
      this.random.seed,
      this.meta,
      pairs,
    );
  }
}

/**
 * The `RunResult` of a run. Its `replayToken` is encoded when first read (an explorer reads
 * the tokens of its findings only), the same string each time, and is an own enumerable
 * property as the other fields (a spread or `JSON.stringify` of a result has it). It is
 * defined with one getter shared by every result, not an object literal's getter: that is a
 * new closure a call, and on Node 20 it left every result in dictionary mode (slow
 * properties; `%HasFastProperties` false), where these share one fast map. The fields are
 * declared, not initialised, so that they keep the order an object literal gave them.
 */
class FinishedRun implements RunResult {
  declare readonly status: RunStatus;
  declare readonly deadlock: DeadlockReport | null;
  declare readonly steps: number;
  declare readonly decisions: number;
  declare readonly contextSwitches: number;
  declare readonly replayToken: string;
  declare readonly cpuClocks: readonly number[];
  declare readonly virtualTimeNs: number;
  declare readonly strategy: string;
  declare readonly seed: number;
  readonly #meta: string;
  /** The decision log's pairs (`DecisionLog.finish`). */
  readonly #pairs: DecisionPairs;
  #token: string | null = null;

  constructor(
    status: RunStatus,
    deadlock: DeadlockReport | null,
    steps: number,
    decisions: number,
    contextSwitches: number,
    cpus: readonly Cpu[],
    strategy: string,
    seed: number,
    meta: string,
    pairs: DecisionPairs,
  ) {
    this.#meta = meta;
    this.#pairs = pairs;
    const self = this as {
      -readonly [K in keyof RunResult]: RunResult[K];
    };
    self.status = status;
    self.deadlock = deadlock;
    self.steps = steps;
    self.decisions = decisions;
    self.contextSwitches = contextSwitches;
    Object.defineProperty(this, 'replayToken', REPLAY_TOKEN);
    // The latest clock without spreading the clocks into Math.max (a call with one argument
    // a CPU, which cost more than the rest of the result).
    const cpuClocks: number[] = new Array<number>(cpus.length);
    let latest = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < cpus.length; i++) {
      const clock = (cpus[i] as Cpu).clock;
      cpuClocks[i] = clock;
      if (clock > latest) latest = clock;
    }
    self.cpuClocks = cpuClocks;
    self.virtualTimeNs = latest;
    self.strategy = strategy;
    self.seed = seed;
  }

  /** The replay token of `run`, encoded on the first call. */
  static tokenOf(run: FinishedRun): string {
    let token = run.#token;
    if (token === null) {
      token = encodeReplayToken({
        seed: run.seed,
        meta: run.#meta,
        pairs: run.#pairs instanceof Float64Array ? Array.from(run.#pairs) : run.#pairs,
      });
      run.#token = token;
    }
    return token;
  }
}

/** The `replayToken` property of every `FinishedRun`: one getter for all. */
const REPLAY_TOKEN: PropertyDescriptor = {
  get(this: FinishedRun): string {
    return FinishedRun.tokenOf(this);
  },
  enumerable: true,
  configurable: true,
};

/** The sched_switch `prev_state` of a task leaving its CPU (see `TASK_STATE_RUNNING`). */
function prevState(task: Task): number {
  switch (task.state) {
    case 'runnable':
      return TASK_STATE_PREEMPTED;
    case 'done':
      return TASK_STATE_EXIT_DEAD;
    default:
      return TASK_STATE_UNINTERRUPTIBLE;
  }
}
