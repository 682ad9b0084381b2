import {
  type DeadlockReport,
  encodeReplayToken,
  type FaultSpec,
  type FootprintLog,
  type Invariant,
  type InvariantPhase,
  MmsimError,
  type MmsimErrorCode,
  type RunResult,
  ScheduleAbandoned,
  type Strategy,
  type Task,
} from '@mmsim/runtime';
import type { Check, CheckViolationShape } from './check.js';
import { type ActiveChecks, activeChecks, type CheckOptions } from './checks.js';
import type { Finding, FindingDetail, StepRecord } from './finding.js';
import { encodeRunMeta } from './run-meta.js';
import { ScheduleTracker } from './schedule-tracker.js';
import { StepRecorder } from './step-recorder.js';
import { type GuidedMode, GuidedStrategy } from './strategies/guided.js';
import { TrackedStrategy } from './strategies/tracked.js';
import type { ExplorationInstance, ExplorationTarget } from './target.js';

/** What every run of one exploration shares. */
export interface RunSetup {
  readonly target: ExplorationTarget;
  readonly checks: CheckOptions;
  readonly faults: Readonly<Record<string, FaultSpec>>;
  readonly maxSteps: number;
  /**
   * Hand each instance back (`ExplorationInstance.release`) once its run is judged: set by
   * `explore`, whose runs keep nothing of the instance; a replay keeps its instance.
   */
  readonly releaseInstances?: boolean;
}

/** Who chooses at the decisions: a runtime strategy (random, PCT), or a list of choices. */
export type ScheduleSource =
  | { readonly kind: 'strategy'; readonly strategy: Strategy }
  | { readonly kind: 'guided'; readonly choices: readonly number[]; readonly mode: GuidedMode };

/** A finding's detail and its one-line message. */
export type Verdict = FindingDetail & { readonly message: string };

/** How one run went. */
export interface RunOutcome {
  readonly verdict: Verdict | null;
  /** The runtime's result; null when a check or a crash stopped the run. */
  readonly result: RunResult | null;
  readonly tracker: ScheduleTracker;
  /** Replays this run exactly (encoded when read). */
  readonly token: string;
  readonly seed: number;
  /** Set when the run was recorded. */
  readonly steps: readonly StepRecord[] | null;
  /** A DPOR run dropped as sleep-set blocked (`ScheduleAbandoned`): no verdict. */
  readonly abandoned: boolean;
}

/** Thrown from onStep to stop a run at a failed check. */
class StopRun extends Error {}

/** Errors that say the explorer or the target was misused, not that the model went wrong. */
const MISUSE: ReadonlySet<MmsimErrorCode> = new Set([
  'REPLAY_DIVERGED',
  'INVALID_REPLAY_TOKEN',
  'INVALID_STATE',
]);

const GUIDED_NAMES: Readonly<Record<GuidedMode, string>> = {
  replay: 'replay',
  prefix: 'dfs',
  lenient: 'shrink',
};

/** Run-length pairs (task id, count) of a list of choices, as replay tokens keep them. */
export function toPairs(choices: readonly number[]): number[] {
  const pairs: number[] = [];
  for (const id of choices) {
    const n = pairs.length;
    if (n > 0 && pairs[n - 2] === id) pairs[n - 1] = (pairs[n - 1] as number) + 1;
    else pairs.push(id, 1);
  }
  return pairs;
}

/** The choices listed by run-length pairs. */
export function fromPairs(pairs: readonly number[]): number[] {
  const choices: number[] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    for (let k = 0; k < (pairs[i + 1] as number); k++) choices.push(pairs[i] as number);
  }
  return choices;
}

function describeDeadlock(report: DeadlockReport): string {
  if (report.cycle.length === 0) {
    return 'deadlock: every task sleeps, but no wait-for cycle (a lost wake-up?)';
  }
  const edges = report.cycle.map(
    (e) => `${e.task.name}-${e.task.id} waits in ${e.waitsIn} for ${e.resource}`,
  );
  return `deadlock: ${edges.join('; ')}`;
}

/** What the explorer reports itself; a check may not claim these kinds. */
const BUILT_IN_KINDS: ReadonlySet<string> = new Set([
  'deadlock',
  'invariant',
  'step-limit',
  'crash',
]);

function checkInstance(instance: ExplorationInstance, target: string): void {
  const i = instance as Partial<ExplorationInstance> | null;
  if (
    typeof i !== 'object' ||
    i === null ||
    typeof i.rt !== 'object' ||
    i.rt === null ||
    typeof i.rt.run !== 'function' ||
    !Array.isArray(i.invariants) ||
    (i.checks !== undefined && !Array.isArray(i.checks)) ||
    (i.release !== undefined && typeof i.release !== 'function')
  ) {
    throw new MmsimError(
      'INVALID_CONFIG',
      `target "${target}": instantiate() must return { rt: Runtime, invariants: Invariant[], checks?: Check[], release?(): void }`,
    );
  }
}

/** The verdict of a failed check; a violation that claims a built-in kind is misuse. */
function checkVerdict(name: string, v: CheckViolationShape, target: string): Verdict {
  if (typeof v.kind !== 'string' || v.kind === '' || BUILT_IN_KINDS.has(v.kind)) {
    throw new MmsimError(
      'INVALID_CONFIG',
      `target "${target}": check ${name} reported kind ${JSON.stringify(v.kind)}; a check's ` +
        `kind must be its own (not ${[...BUILT_IN_KINDS].join(', ')})`,
    );
  }
  return {
    kind: v.kind,
    check: name,
    detail: v.detail,
    data: v.data,
    message: v.message,
  } as Verdict;
}

function notPassed(target: string, option: string): MmsimError {
  return new MmsimError(
    'INVALID_CONFIG',
    `target "${target}" must create its Runtime with options.runtime (its ${option} differs): ` +
      'new Runtime({ ...yourConfig, ...options.runtime })',
  );
}

/**
 * How `runSchedule` calls the step invariants. `strides`: each one's `stepStride` when it
 * has one (a positive integer, with `checkDue`), else 0; null when none has: `runSchedule`
 * then calls `checkDue` on the due step checks only, and `check` of the others at every
 * step. `period`: the greatest common divisor of the strides (0 without strides); a step
 * check whose number it does not divide has no strided invariant due, and calls `plain`
 * (the invariants without a stride, in their order) only: the same calls, in the same
 * order, without the walk over the strided ones.
 */
interface StepPlan {
  readonly strides: number[] | null;
  readonly period: number;
  readonly plain: readonly Invariant[];
}

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const r = a % b;
    a = b;
    b = r;
  }
  return a;
}

/** The `StepPlan` of a schedule's step invariants. */
function stepPlan(invariants: readonly Invariant[]): StepPlan {
  let strides: number[] | null = null;
  let period = 0;
  const plain: Invariant[] = [];
  for (let i = 0; i < invariants.length; i++) {
    const inv = invariants[i] as Invariant;
    const stride = inv.stepStride;
    if (
      stride === undefined ||
      !Number.isInteger(stride) ||
      stride < 1 ||
      typeof inv.checkDue !== 'function'
    ) {
      plain.push(inv);
      continue;
    }
    strides ??= new Array<number>(invariants.length).fill(0);
    strides[i] = stride;
    period = gcd(stride, period);
  }
  return { strides, period, plain };
}

/** The verdict of an invariant that failed: `violation` is what its check said. */
function invariantVerdict(inv: Invariant, phase: InvariantPhase, violation: string): Verdict {
  return {
    kind: 'invariant',
    invariant: inv.name,
    phase,
    violation,
    message: `invariant ${inv.name} failed: ${violation}`,
  };
}

/** What `check` of an invariant says (a throw is a violation with the error's message). */
function checkOne(inv: Invariant, phase: InvariantPhase, result?: RunResult): string | null {
  try {
    return inv.check(phase, result);
  } catch (error) {
    return `threw ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** What `checkDue` of a strided invariant says (see `checkOne`). */
function checkOneDue(inv: Invariant): string | null {
  try {
    // (`stepPlan` saw `checkDue`; called as a method, on the invariant.)
    return inv.checkDue!('step');
  } catch (error) {
    return `threw ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** Whether `record` has an own enumerable key: `Object.keys(record).length > 0` without the array. */
function hasOwnKeys(record: object): boolean {
  for (const key in record) if (Object.hasOwn(record, key)) return true;
  return false;
}

/** The run meta of each setup, encoded once: every schedule of an exploration shares it. */
const META = new WeakMap<RunSetup, string>();

/** The replay tokens' meta of the runs of `setup` (encoded on the first run, then cached). */
function runMetaOf(setup: RunSetup): string {
  let meta = META.get(setup);
  if (meta === undefined) {
    meta = encodeRunMeta({
      target: setup.target.name,
      identity: setup.target.identity ?? {},
      maxSteps: setup.maxSteps,
      faults: setup.faults,
      disable: setup.checks.disable ?? [],
      invariants: (setup.checks.invariants ?? []).map((inv) => inv.name),
    });
    META.set(setup, meta);
  }
  return meta;
}

/**
 * Builds a fresh instance of the target, runs it once under `source` with every check
 * after each step and at the end, and says what it found. `record` also collects the
 * steps for the report. Misuse (a target that ignores the runtime options, a token that
 * diverges) throws; what goes wrong in the model is the verdict.
 */
export function runSchedule(
  setup: RunSetup,
  source: ScheduleSource,
  seed: number,
  record: boolean,
  keepAlternatives = false,
  footprints: FootprintLog | null = null,
): RunOutcome {
  const targetName = setup.target.name;
  const tracker = new ScheduleTracker(keepAlternatives);
  const guided =
    source.kind === 'guided'
      ? new GuidedStrategy(GUIDED_NAMES[source.mode], source.choices, source.mode, tracker)
      : null;
  const strategy: Strategy =
    source.kind === 'guided'
      ? (guided as GuidedStrategy)
      : new TrackedStrategy(source.strategy, tracker);
  const meta = runMetaOf(setup);

  let checks: ActiveChecks | null = null;
  let recorder: StepRecorder | null = null;
  let stopped: Verdict | null = null;
  let misuse: unknown = null;
  let stepsSeen = 0;

  // How the step invariants are called (see `StepPlan`); set with `checks`.
  let plan: StepPlan | null = null;
  // The step checks so far: the count each strided invariant's own `check` would keep.
  let stepChecks = 0;

  /** The step invariants after a step, as each one's `check('step')` would answer. */
  const stepInvariants = (): Verdict | null => {
    const p = plan as StepPlan;
    const n = ++stepChecks;
    const strides = p.strides;
    if (strides === null || n % p.period !== 0) {
      // No strided invariant is due: theirs would count the call and answer null.
      const plain = p.plain;
      for (let i = 0; i < plain.length; i++) {
        const inv = plain[i] as Invariant;
        const violation = checkOne(inv, 'step');
        if (violation !== null) return invariantVerdict(inv, 'step', violation);
      }
      return null;
    }
    const list = (checks as ActiveChecks).stepInvariants;
    for (let i = 0; i < list.length; i++) {
      const inv = list[i] as Invariant;
      const stride = strides[i] as number;
      // Not due: its `check('step')` would count the call and answer null.
      if (stride !== 0 && n % stride !== 0) continue;
      const violation = stride !== 0 ? checkOneDue(inv) : checkOne(inv, 'step');
      if (violation !== null) return invariantVerdict(inv, 'step', violation);
    }
    return null;
  };

  /** The invariants at the end of a completed run. */
  const endInvariants = (result: RunResult): Verdict | null => {
    const list = (checks as ActiveChecks).invariants;
    for (let i = 0; i < list.length; i++) {
      const inv = list[i] as Invariant;
      const violation = checkOne(inv, 'end', result);
      if (violation !== null) return invariantVerdict(inv, 'end', violation);
    }
    return null;
  };

  const onStep = (task: Task, step: number): void => {
    stepsSeen++;
    if (recorder !== null) recorder.stepped(task, step, tracker);
    tracker.stepped(task);
    if (checks === null) return;
    const targetChecks = checks.checks;
    for (let i = 0; i < targetChecks.length; i++) {
      const c = targetChecks[i] as Check;
      const violation: CheckViolationShape | null = c.check();
      if (violation !== null) {
        try {
          stopped = checkVerdict(c.name, violation, targetName);
        } catch (error) {
          misuse = error; // thrown from run(), not taken for a crash of the model
        }
        throw new StopRun();
      }
    }
    const verdict = stepInvariants();
    if (verdict !== null) {
      stopped = verdict;
      throw new StopRun();
    }
  };

  // The same keys, in the same order, as spreading `{ footprints }` in when there are
  // footprints: written out, not spread (a clone of a literal a schedule).
  const maxSteps = setup.maxSteps;
  const instance = setup.target.instantiate({
    runtime:
      footprints === null
        ? { strategy, seed, onStep, maxSteps, meta }
        : { strategy, seed, onStep, maxSteps, meta, footprints },
  });
  checkInstance(instance, targetName);
  const rt = instance.rt;
  if (rt.strategy !== strategy) throw notPassed(targetName, 'strategy');
  if (rt.random.seed !== seed) throw notPassed(targetName, 'seed');
  if (rt.maxSteps !== setup.maxSteps) throw notPassed(targetName, 'maxSteps');
  if (rt.meta !== meta) throw notPassed(targetName, 'meta');
  if (footprints !== null && rt.footprints !== footprints)
    throw notPassed(targetName, 'footprints');
  checks = activeChecks(instance, setup.checks, targetName);
  plan = stepPlan(checks.stepInvariants);
  if (hasOwnKeys(setup.faults)) rt.faults.configure(setup.faults);
  if (record) recorder = new StepRecorder(rt);

  let result: RunResult | null = null;
  let verdict: Verdict | null = null;
  let abandoned = false;
  try {
    result = rt.run();
  } catch (error) {
    if (error instanceof ScheduleAbandoned) {
      abandoned = true;
    } else if (error instanceof StopRun) {
      if (misuse !== null) throw misuse;
      verdict = stopped;
    } else if (error instanceof MmsimError && !MISUSE.has(error.code)) {
      const task = tracker.crashedTask(rt);
      recorder?.crashed(task, tracker.steps + 1, tracker);
      tracker.crashed(task);
      verdict = {
        kind: 'crash',
        error: { code: error.code, message: error.message },
        message: `crash: ${error.code}: ${error.message}`,
      };
    } else {
      throw error;
    }
  }
  if (result !== null) {
    if (stepsSeen === 0 && result.steps > 0) throw notPassed(targetName, 'onStep');
    if (
      guided !== null &&
      source.kind === 'guided' &&
      source.mode === 'replay' &&
      !guided.exhausted
    ) {
      throw new MmsimError(
        'REPLAY_DIVERGED',
        'the run ended before using every decision of the replay token; the token belongs to ' +
          'another target, or was recorded with other invariants',
      );
    }
    if (result.status === 'deadlock' && result.deadlock !== null) {
      verdict = {
        kind: 'deadlock',
        deadlock: result.deadlock,
        message: describeDeadlock(result.deadlock),
      };
    } else if (result.status === 'step-limit') {
      verdict = {
        kind: 'step-limit',
        message: `step-limit: the run did not end within ${setup.maxSteps} steps`,
      };
    } else {
      verdict = endInvariants(result);
    }
  }
  if (setup.releaseInstances === true) instance.release?.();
  // The choices become a list of their own; the tracker's buffer serves the next schedule.
  tracker.finish();
  return new ScheduleOutcome(
    verdict,
    result,
    tracker,
    seed,
    meta,
    recorder === null ? null : recorder.steps,
    abandoned,
  );
}

/**
 * A `RunOutcome` whose token is encoded on demand (only a run with a finding needs it).
 * A class with the getter on its prototype, not an object literal with a getter: on Node 20
 * a literal's getter closure goes into a map of the old generation and, through the
 * closure's context (here `runSchedule`'s: the checks, so the whole instance), keeps the
 * machine alive through every young-generation collection until a full one.
 */
class ScheduleOutcome implements RunOutcome {
  constructor(
    readonly verdict: Verdict | null,
    readonly result: RunResult | null,
    readonly tracker: ScheduleTracker,
    readonly seed: number,
    readonly meta: string,
    readonly steps: readonly StepRecord[] | null,
    readonly abandoned: boolean,
  ) {}

  get token(): string {
    return encodeReplayToken({
      seed: this.seed,
      meta: this.meta,
      pairs: toPairs(this.tracker.choices),
    });
  }
}

/** The finding of a run that had one. */
export function findingOf(outcome: RunOutcome, target: string): Finding | null {
  const verdict = outcome.verdict;
  if (verdict === null) return null;
  const common = {
    target,
    replay: outcome.token,
    seed: outcome.seed,
    shape: outcome.tracker.shape,
  };
  return outcome.steps === null
    ? { ...verdict, ...common }
    : { ...verdict, ...common, steps: outcome.steps };
}
