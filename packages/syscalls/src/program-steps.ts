import type { Kernel } from '@mmsim/kernel';
import { errnoName, type KernelGen, MmsimError, type Task } from '@mmsim/runtime';
import { z } from 'zod';
import type { Process } from './process.js';
import {
  type ExpectationFailure,
  type Program,
  type ProgramLedger,
  type ProgramProcess,
  program,
  programLedger,
} from './program.js';
import {
  evalProgramExpr,
  PROGRAM_FUNCTIONS,
  type ProgramEnv,
  type ProgramExpr,
  type ProgramValue,
  parseProgramExpr,
} from './program-expr.js';
import type { Sys } from './sys.js';
import { SYSCALLS, type SyscallSpec } from './syscall-table.js';
import type { ThreadBody } from './userland.js';

/** A value in a step: a number, an expression (a string), or a list of them. */
export type StepValue = number | string | readonly (number | string)[];

/** What a step expects: its return value, errno, and out-parameters by name (`status`). */
export interface StepExpect {
  readonly ret?: StepValue;
  readonly errno?: StepValue;
  readonly [out: string]: StepValue | undefined;
}

/** A thread started by a `fork` or `thread` step. */
export interface ChildThread {
  readonly cpu?: number;
  readonly name?: string;
  readonly steps: readonly ProgramStep[];
}

/**
 * One step of a thread of a program written as data (see docs/programs.md): one system
 * call of the `SYSCALLS` table or one memory access, or the control a C test has around
 * them (fork, threads, waitpid, loops, variables, exit, LTP's checkpoints).
 */
export type ProgramStep =
  | {
      readonly call: string;
      readonly args?: Readonly<Record<string, unknown>>;
      readonly as?: string;
      readonly expect?: StepExpect;
    }
  | { readonly write: StepValue; readonly value: StepValue }
  | {
      readonly read: StepValue;
      readonly as?: string;
      readonly expect?: { readonly value: StepValue };
    }
  | { readonly fork: ChildThread; readonly as?: string }
  | { readonly thread: ChildThread; readonly as?: string }
  | { readonly wait: StepValue; readonly as?: string; readonly expect?: StepExpect }
  | { readonly join: string }
  | { readonly repeat: StepValue; readonly as?: string; readonly steps: readonly ProgramStep[] }
  | { readonly let: Readonly<Record<string, StepValue>> }
  | { readonly exit: StepValue }
  | { readonly check: StepValue; readonly expect: { readonly value: unknown } }
  | { readonly checkpoint: 'wait' | 'wake'; readonly id: number };

/** The step kinds, by the key that names each. */
export const STEP_KINDS = [
  'call',
  'write',
  'read',
  'fork',
  'thread',
  'wait',
  'join',
  'repeat',
  'let',
  'exit',
  'checkpoint',
  'check',
] as const;

/** How deep `fork`, `thread` and `repeat` steps may nest. */
export const MAX_STEP_DEPTH = 3;

// ---------------------------------------------------------------------------------------
// Schemas

const exprString = z
  .string()
  .min(1, { message: 'must be an expression' })
  .describe(
    'An expression (docs/programs.md): names of earlier results, constants, arithmetic, lists.',
  );
const scalar = either([z.number(), exprString], 'a number or an expression');
const value = either(
  [scalar, z.array(scalar)],
  'a number, an expression or a list of them',
).describe('A number, an expression, or a list of them.');
const varName = z
  .string({ required_error: 'must be a name' })
  .regex(/^[a-z_][a-z0-9_]*$/, {
    message: 'must be a lower-case name (letters, digits, _), not a constant',
  })
  .refine((n) => !(PROGRAM_FUNCTIONS as readonly string[]).includes(n), {
    message: 'is the name of a function',
  });

/** An expected value: exactly this, `{ oneOf: [...] }`, or a range `{ min, max }`. */
const expectValue = z
  .union(
    [
      value,
      z.object({ oneOf: z.array(value).min(1).describe('Any of these values.') }).strict(),
      z
        .object({
          min: scalar.optional().describe('At least this.'),
          max: scalar.optional().describe('At most this.'),
        })
        .strict(),
    ],
    {
      errorMap: (issue, ctx) =>
        issue.code === 'invalid_union'
          ? {
              message:
                ctx.data === undefined
                  ? 'Required'
                  : 'must be a value, { oneOf: [values] } or { min, max }',
            }
          : { message: ctx.defaultError },
    },
  )
  .describe('The value expected: exactly it, { oneOf: [...] }, or { min, max }.');

const expectSchema = z
  .object({
    ret: expectValue.optional().describe('The return value (-1 for a failed call).'),
    errno: expectValue.optional().describe('errno after the call: ENODEV, EINVAL, ... (or 0).'),
  })
  .catchall(expectValue)
  .describe('Expected values: ret, errno, and out-parameters by name (status, mode, nodemask).');

/** A union whose error says what it takes (zod's own says "Invalid input"). */
function either(options: [z.ZodTypeAny, z.ZodTypeAny], what: string): z.ZodTypeAny {
  return z.union(options, {
    errorMap: (issue, ctx) =>
      issue.code === 'invalid_union'
        ? { message: ctx.data === undefined ? 'Required' : `must be ${what}` }
        : { message: ctx.defaultError },
  });
}

/** A zod schema in which numbers and lists may also be expressions (what a step's `args` is). */
export function stepArgsSchema(schema: z.ZodTypeAny): z.ZodTypeAny {
  const d = schema.description;
  const keep = (s: z.ZodTypeAny) => (d === undefined ? s : s.describe(d));
  if (schema instanceof z.ZodObject) {
    const shape: Record<string, z.ZodTypeAny> = {};
    for (const [k, v] of Object.entries(schema.shape as Record<string, z.ZodTypeAny>)) {
      const field = stepArgsSchema(v);
      shape[k] = field.description === undefined ? field.describe(`The argument ${k}.`) : field;
    }
    const o = z.object(shape);
    return keep(schema._def.unknownKeys === 'strict' ? o.strict() : o);
  }
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault) {
    const inner = schema instanceof z.ZodOptional ? schema.unwrap() : schema.removeDefault();
    return keep(stepArgsSchema(inner).optional());
  }
  if (schema instanceof z.ZodNullable) return keep(stepArgsSchema(schema.unwrap()).nullable());
  if (schema instanceof z.ZodEffects) return keep(stepArgsSchema(schema.innerType()));
  if (schema instanceof z.ZodNumber) {
    return keep(either([schema, exprString], 'a number or an expression'));
  }
  if (schema instanceof z.ZodArray) {
    return keep(
      either([z.array(stepArgsSchema(schema.element)), exprString], 'a list or an expression'),
    );
  }
  if (
    schema instanceof z.ZodString ||
    schema instanceof z.ZodEnum ||
    schema instanceof z.ZodLiteral ||
    schema instanceof z.ZodBoolean
  ) {
    return schema;
  }
  return keep(either([schema, exprString], 'a value or an expression'));
}

const childThread = (steps: z.ZodTypeAny) =>
  z
    .object({
      cpu: z.number().int().min(0).optional().describe("Its CPU; default the starting thread's."),
      name: z.string().optional().describe('Its comm.'),
      steps,
    })
    .strict();

/**
 * The schemas of the step kinds other than `call`. `documented`: the nested step lists of
 * fork, thread and repeat are documented as lists of steps without repeating the whole
 * union (the JSON Schema would grow by the number of kinds at each level); they are
 * validated in full all the same, by `programStepSchema`'s own check.
 */
function kindSchemas(depth: number, documented = false): Record<string, z.ZodTypeAny> {
  const nested =
    depth <= 0
      ? null
      : documented
        ? z
            .array(z.unknown())
            .min(1, { message: 'must list at least one step' })
            .describe('Steps, each one as the steps of a thread.')
        : programStepsSchema(depth - 1);
  const out: Record<string, z.ZodTypeAny> = {
    write: z
      .object({
        write: value.describe('The address (or a list: one store to each, in order).'),
        value: value.describe('The value stored (a list: one per address).'),
      })
      .strict()
      .describe('A store of a word to memory (faults as a user access does).'),
    read: z
      .object({
        read: value.describe('The address (or a list: one load from each, in order).'),
        as: varName.optional().describe('Name for the value loaded.'),
        expect: z
          .object({
            value: expectValue.describe('The value (or list of values) the load must see.'),
          })
          .strict()
          .optional()
          .describe('What the load must see.'),
      })
      .strict()
      .describe('A load of a word from memory.'),
    wait: z
      .object({
        wait: value.describe('The pid of a child (the name of its fork step).'),
        as: varName.optional().describe('Name for its exit status.'),
        expect: expectSchema.optional(),
      })
      .strict()
      .describe('waitpid(pid): waits for a child to exit; returns its exit status.'),
    join: z
      .object({ join: varName.describe('The name of a thread step.') })
      .strict()
      .describe('pthread_join: waits for a thread of this process to end.'),
    let: z
      .object({
        let: z.record(varName, value).describe('Names and their values, evaluated in order.'),
      })
      .strict()
      .describe('Names values for later steps.'),
    exit: z
      .object({ exit: value.describe('The exit status.') })
      .strict()
      .describe("Ends the thread; the first thread's status is the process's."),
    check: z
      .object({
        check: value.describe('The value to check: an expression over earlier results.'),
        expect: z
          .object({ value: expectValue.describe('What it must be.') })
          .strict()
          .describe('The expected value.'),
      })
      .strict()
      .describe(
        "A test's own check of earlier results (`if (status[i] != node) errors++`), no call.",
      ),
    checkpoint: z
      .object({
        checkpoint: z.enum(['wait', 'wake']).describe("TST_CHECKPOINT_WAIT / _WAKE (LTP's)."),
        id: z.number().int().min(0).describe('The checkpoint.'),
      })
      .strict()
      .describe("LTP's checkpoints between processes."),
  };
  if (nested !== null) {
    out.fork = z
      .object({
        fork: childThread(nested).describe('The child: its one thread, on a copy of the memory.'),
        as: varName.optional().describe("Name for the child's pid."),
      })
      .strict()
      .describe('fork(): a child process running its own steps.');
    out.thread = z
      .object({
        thread: childThread(nested).describe('The new thread of this process.'),
        as: varName.optional().describe('Name of the thread (for join).'),
      })
      .strict()
      .describe('pthread_create: another thread of this process.');
    out.repeat = z
      .object({
        repeat: value.describe('How many times.'),
        as: varName.optional().describe('Name of the counter (0, 1, ...).'),
        steps: nested,
      })
      .strict()
      .describe('A loop: the steps, that many times.');
  }
  return out;
}

function callSchemas(): Record<string, z.ZodTypeAny> {
  const out: Record<string, z.ZodTypeAny> = {};
  for (const [name, spec] of Object.entries(SYSCALLS)) {
    out[name] = z
      .object({
        call: z.literal(name).describe(spec.doc),
        args: stepArgsSchema(spec.args as z.ZodTypeAny)
          .optional()
          .describe(`The arguments of ${name}, by the names of its C parameters.`),
        as: varName
          .optional()
          .describe('Name for the return value (and name.out for out-parameters).'),
        expect: expectSchema.optional(),
      })
      .strict()
      .describe(spec.doc);
  }
  return out;
}

const KIND_LIST = STEP_KINDS.join(', ');

/**
 * The schema of one step: checked kind by kind (so an error names the field, as everywhere
 * in a scenario file), documented as the union of every kind and every system call of
 * `SYSCALLS` (so the JSON Schema lists each call's arguments).
 */
export function programStepSchema(depth = MAX_STEP_DEPTH): z.ZodTypeAny {
  const kinds = kindSchemas(depth);
  const calls = callSchemas();
  const all = [...Object.values(calls), ...Object.values(kindSchemas(depth, true))];
  return z.preprocess(
    (v, ctx) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: `must be a step: an object with one of ${KIND_LIST}`,
          fatal: true,
        });
        return z.NEVER;
      }
      const present = STEP_KINDS.filter((k) => k in v);
      if (present.length !== 1) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message:
            present.length === 0
              ? `must have one of ${KIND_LIST}`
              : `has ${present.join(' and ')}: give one step kind per step`,
          fatal: true,
        });
        return z.NEVER;
      }
      const kind = present[0] as string;
      let schema: z.ZodTypeAny | undefined;
      if (kind === 'call') {
        const name = (v as { call: unknown }).call;
        schema = typeof name === 'string' && Object.hasOwn(calls, name) ? calls[name] : undefined;
        if (schema === undefined) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: ['call'],
            message: `must be a system call of the table (${Object.keys(calls).join(', ')}); got ${JSON.stringify(name)}`,
            fatal: true,
          });
          return z.NEVER;
        }
      } else {
        schema = kinds[kind];
        if (schema === undefined) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            message: `nests ${kind} deeper than ${MAX_STEP_DEPTH} levels`,
            fatal: true,
          });
          return z.NEVER;
        }
      }
      const parsed = schema.safeParse(v);
      if (!parsed.success) {
        const issue = parsed.error.issues[0] as z.ZodIssue;
        ctx.addIssue({ ...issue, fatal: true } as z.IssueData);
        return z.NEVER;
      }
      return parsed.data;
    },
    z.union(all as unknown as [z.ZodTypeAny, z.ZodTypeAny, ...z.ZodTypeAny[]]),
  );
}

/** The schema of a list of steps (at least one). */
export function programStepsSchema(depth = MAX_STEP_DEPTH): z.ZodTypeAny {
  return z
    .array(programStepSchema(depth))
    .min(1, { message: 'must list at least one step' })
    .describe('The steps, in order: one system call or memory access each.');
}

// ---------------------------------------------------------------------------------------
// Static checks

function stepKind(step: ProgramStep): (typeof STEP_KINDS)[number] {
  return STEP_KINDS.find((k) => k in step) as (typeof STEP_KINDS)[number];
}

/** Every expression string of a value with its path (numbers need no parsing). */
function expressionsOf(v: unknown, path: string, out: [string, string][]): void {
  if (typeof v === 'string') out.push([path, v]);
  else if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) expressionsOf(x, `${path}[${i}]`, out);
  }
}

/** The expression strings of `args` where the call's schema has numbers or lists. */
function argExpressions(
  schema: z.ZodTypeAny,
  v: unknown,
  path: string,
  out: [string, string][],
): void {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject && typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const shape = inner.shape as Record<string, z.ZodTypeAny>;
    for (const [k, x] of Object.entries(v)) {
      const s = shape[k];
      if (s !== undefined) argExpressions(s, x, `${path}.${k}`, out);
    }
    return;
  }
  if (takesExpression(inner)) expressionsOf(v, path, out);
}

function unwrap(s: z.ZodTypeAny): z.ZodTypeAny {
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap();
    else if (s instanceof z.ZodDefault) s = s.removeDefault();
    else if (s instanceof z.ZodEffects) s = s.innerType();
    else return s;
  }
}

/** True when a string in this place is an expression, not a string value. */
function takesExpression(s: z.ZodTypeAny): boolean {
  return !(
    s instanceof z.ZodString ||
    s instanceof z.ZodEnum ||
    s instanceof z.ZodLiteral ||
    s instanceof z.ZodBoolean
  );
}

/**
 * The checks the schema cannot make, over the threads of one process: every expression
 * parses, every name it reads is defined by an earlier step of the thread (or the thread
 * that started it), a `join` names a thread step. Returns `[path, message]` of the first
 * problem, or null. `path` is relative to the thread list, e.g. `[1].steps[2].args.pages`.
 */
export function programStepsProblem(
  threads: readonly { readonly steps: readonly ProgramStep[] }[],
): [string, string] | null {
  const walk = (
    steps: readonly ProgramStep[],
    path: string,
    scope: Set<string>,
    threadNames: Set<string>,
  ): [string, string] | null => {
    for (const [i, step] of steps.entries()) {
      const at = `${path}[${i}]`;
      const exprs: [string, string][] = [];
      const kind = stepKind(step);
      const s = step as Record<string, unknown>;
      if (kind === 'call') {
        const spec = SYSCALLS[s.call as string] as SyscallSpec<unknown>;
        argExpressions(spec.args as z.ZodTypeAny, s.args ?? {}, `${at}.args`, exprs);
      } else if (kind === 'write') {
        expressionsOf(s.write, `${at}.write`, exprs);
        expressionsOf(s.value, `${at}.value`, exprs);
      } else if (kind === 'read') expressionsOf(s.read, `${at}.read`, exprs);
      else if (kind === 'wait') expressionsOf(s.wait, `${at}.wait`, exprs);
      else if (kind === 'repeat') expressionsOf(s.repeat, `${at}.repeat`, exprs);
      else if (kind === 'exit') expressionsOf(s.exit, `${at}.exit`, exprs);
      else if (kind === 'check') expressionsOf(s.check, `${at}.check`, exprs);
      const check = (list: [string, string][], names: Set<string>): [string, string] | null => {
        for (const [p, text] of list) {
          let parsed: ProgramExpr;
          try {
            parsed = parseProgramExpr(text);
          } catch (error) {
            return [p, (error as Error).message];
          }
          const missing = parsed.names.find((n) => !names.has(n));
          if (missing !== undefined) {
            return [
              p,
              `"${text}" reads ${missing}, which no earlier step names (names so far: ${[...names].join(', ') || 'none'})`,
            ];
          }
        }
        return null;
      };
      const problem = check(exprs, scope);
      if (problem !== null) return problem;
      if (kind === 'let') {
        for (const [name, v] of Object.entries(s.let as Record<string, StepValue>)) {
          const list: [string, string][] = [];
          expressionsOf(v, `${at}.let.${name}`, list);
          const p = check(list, scope);
          if (p !== null) return p;
          scope.add(name);
        }
      }
      if (kind === 'join' && !threadNames.has(s.join as string)) {
        return [`${at}.join`, `"${String(s.join)}" names no earlier thread step of this thread`];
      }
      if (kind === 'fork' || kind === 'thread') {
        const child = s[kind] as ChildThread;
        const inner = walk(child.steps, `${at}.${kind}.steps`, new Set(scope), new Set());
        if (inner !== null) return inner;
        if (typeof s.as === 'string') {
          scope.add(s.as);
          if (kind === 'thread') threadNames.add(s.as);
        }
      } else if (kind === 'repeat') {
        if (typeof s.as === 'string') scope.add(s.as);
        const inner = walk(s.steps as ProgramStep[], `${at}.steps`, scope, threadNames);
        if (inner !== null) return inner;
      } else if (typeof s.as === 'string') {
        scope.add(s.as);
      }
      // Expectations see the step's own result (its out-parameters included).
      const expectations: [string, string][] = [];
      if (s.expect !== undefined) {
        for (const [k, v] of Object.entries(s.expect as Record<string, unknown>)) {
          if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
            for (const [kk, vv] of Object.entries(v)) {
              expressionsOf(vv, `${at}.expect.${k}.${kk}`, expectations);
            }
          } else expressionsOf(v, `${at}.expect.${k}`, expectations);
        }
      }
      const p = check(expectations, scope);
      if (p !== null) return p;
    }
    return null;
  };
  for (const [t, thread] of threads.entries()) {
    const problem = walk(thread.steps, `[${t}].steps`, new Set(), new Set());
    if (problem !== null) return problem;
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// Running

/** Where a thread of a data program is: for findings. */
interface ThreadContext {
  readonly ledger: ProgramLedger;
  readonly process: Process;
  /** The thread's path, e.g. `processes[0].threads[1]` or `...steps[3].fork`. */
  readonly thread: string;
  readonly exprs: Map<string, ProgramExpr>;
}

function expr(ctx: ThreadContext, text: string): ProgramExpr {
  let e = ctx.exprs.get(text);
  if (e === undefined) {
    e = parseProgramExpr(text);
    ctx.exprs.set(text, e);
  }
  return e;
}

function evalValue(ctx: ThreadContext, env: ProgramEnv, v: unknown): ProgramValue {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return evalProgramExpr(expr(ctx, v), env);
  if (Array.isArray(v)) {
    return v.map((x) => {
      const r = evalValue(ctx, env, x);
      if (typeof r !== 'number') {
        throw new MmsimError('INVALID_ARGUMENT', 'a list item must be a number');
      }
      return r;
    });
  }
  throw new MmsimError('INVALID_ARGUMENT', `not a value: ${JSON.stringify(v)}`);
}

/** The arguments with their expressions evaluated, where the call's schema takes numbers. */
function resolveArgs(
  ctx: ThreadContext,
  env: ProgramEnv,
  schema: z.ZodTypeAny,
  v: unknown,
): unknown {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject && typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const shape = inner.shape as Record<string, z.ZodTypeAny>;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const s = shape[k];
      out[k] = s === undefined ? x : resolveArgs(ctx, env, s, x);
    }
    return out;
  }
  if (v === null || v === undefined || !takesExpression(inner)) return v;
  if (typeof v === 'string' || Array.isArray(v)) return evalValue(ctx, env, v);
  return v;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function showErrno(v: unknown): unknown {
  return typeof v === 'number' ? (v === 0 ? 0 : errnoName(v)) : v;
}

/** An expectation, evaluated. */
type Expected =
  | { readonly is: ProgramValue }
  | { readonly oneOf: readonly ProgramValue[] }
  | { readonly min?: number; readonly max?: number };

function evalExpected(ctx: ThreadContext, env: ProgramEnv, want: unknown): Expected {
  if (typeof want === 'object' && want !== null && !Array.isArray(want)) {
    const w = want as { oneOf?: unknown[]; min?: unknown; max?: unknown };
    if (w.oneOf !== undefined) return { oneOf: w.oneOf.map((v) => evalValue(ctx, env, v)) };
    const bound = (v: unknown) => {
      const r = evalValue(ctx, env, v);
      if (typeof r !== 'number')
        throw new MmsimError('INVALID_ARGUMENT', 'a bound must be a number');
      return r;
    };
    return {
      ...(w.min === undefined ? {} : { min: bound(w.min) }),
      ...(w.max === undefined ? {} : { max: bound(w.max) }),
    };
  }
  return { is: evalValue(ctx, env, want) };
}

function matches(e: Expected, actual: unknown): boolean {
  if ('is' in e) return same(e.is, actual);
  if ('oneOf' in e) return e.oneOf.some((v) => same(v, actual));
  if (typeof actual !== 'number') return false;
  return (e.min === undefined || actual >= e.min) && (e.max === undefined || actual <= e.max);
}

/** An expectation as findings show it (errno values by name). */
function shown(e: Expected, isErrno: boolean): unknown {
  const v = (x: unknown) => (isErrno ? showErrno(x) : x);
  if ('is' in e) return v(e.is);
  if ('oneOf' in e) return `one of ${e.oneOf.map((x) => JSON.stringify(v(x))).join(', ')}`;
  return [e.min === undefined ? '' : `>= ${e.min}`, e.max === undefined ? '' : `<= ${e.max}`]
    .filter((x) => x !== '')
    .join(' and ');
}

function check(
  ctx: ThreadContext,
  step: string,
  call: string,
  field: string,
  expected: Expected,
  actual: unknown,
): void {
  if (matches(expected, actual)) return;
  const isErrno = field === 'errno';
  const want = shown(expected, isErrno);
  const got = isErrno ? showErrno(actual) : actual;
  const failure: ExpectationFailure = {
    process: ctx.process.comm,
    pid: ctx.process.pid,
    thread: ctx.thread,
    step,
    call,
    field,
    expected: want,
    actual: got,
    message: `${call} ${field}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`,
  };
  ctx.ledger.fail(failure);
}

function setVar(vars: Map<string, ProgramValue>, name: string, v: unknown): void {
  if (typeof v === 'number') vars.set(name, v);
  else if (Array.isArray(v) && v.every((x) => typeof x === 'number')) vars.set(name, v);
}

/** Thrown out of the steps by an `exit` step: the thread's status. */
class ThreadExit {
  readonly status: number;
  constructor(status: number) {
    this.status = status;
  }
}

function* runSteps(
  sys: Sys,
  ctx: ThreadContext,
  steps: readonly ProgramStep[],
  path: string,
  vars: Map<string, ProgramValue>,
  tasks: Map<string, Task>,
): KernelGen {
  const env: ProgramEnv = { vars, random: sys.userland.kernel.rt.random.workload };
  const num = (v: unknown, what: string) => {
    const r = evalValue(ctx, env, v);
    if (typeof r !== 'number') throw new MmsimError('INVALID_ARGUMENT', `${what} must be a number`);
    return r;
  };
  for (const [i, step] of steps.entries()) {
    const at = `${path}[${i}]`;
    const s = step as Record<string, unknown>;
    switch (stepKind(step)) {
      case 'call': {
        const name = s.call as string;
        const spec = SYSCALLS[name];
        if (spec === undefined) {
          throw new MmsimError('INVALID_ARGUMENT', `${at}: no system call ${name} in the table`);
        }
        const raw = resolveArgs(ctx, env, spec.args as z.ZodTypeAny, s.args ?? {});
        const parsed = spec.args.safeParse(raw);
        if (!parsed.success) {
          const issue = parsed.error.issues[0] as z.ZodIssue;
          throw new MmsimError(
            'INVALID_ARGUMENT',
            `${ctx.thread}.${at}: ${name} args.${issue.path.join('.')}: ${issue.message}`,
          );
        }
        sys.errno = 0;
        const outcome = yield* spec.run(sys, parsed.data);
        const as = s.as as string | undefined;
        if (as !== undefined) {
          vars.set(as, outcome.ret);
          for (const [k, v] of Object.entries(outcome.out ?? {})) setVar(vars, `${as}.${k}`, v);
        }
        const expect = s.expect as Record<string, unknown> | undefined;
        if (expect !== undefined) {
          for (const [field, want] of Object.entries(expect)) {
            const expected = evalExpected(ctx, env, want);
            const actual =
              field === 'ret' ? outcome.ret : field === 'errno' ? sys.errno : outcome.out?.[field];
            check(ctx, at, name, field, expected, actual);
          }
        }
        break;
      }
      case 'write': {
        const addrs = evalValue(ctx, env, s.write);
        const values = evalValue(ctx, env, s.value);
        const list = typeof addrs === 'number' ? [addrs] : addrs;
        for (const [k, addr] of list.entries()) {
          const v = typeof values === 'number' ? values : values[k];
          if (v === undefined) {
            throw new MmsimError(
              'INVALID_ARGUMENT',
              `${ctx.thread}.${at}: fewer values than addresses`,
            );
          }
          yield* sys.write(addr, v);
        }
        break;
      }
      case 'read': {
        const addrs = evalValue(ctx, env, s.read);
        let got: ProgramValue;
        if (typeof addrs === 'number') got = yield* sys.read(addrs);
        else {
          const out: number[] = [];
          for (const addr of addrs) out.push(yield* sys.read(addr));
          got = out;
        }
        if (typeof s.as === 'string') vars.set(s.as, got);
        const expect = s.expect as { value: unknown } | undefined;
        if (expect !== undefined) {
          check(ctx, at, 'read', 'value', evalExpected(ctx, env, expect.value), got);
        }
        break;
      }
      case 'fork': {
        const child = s.fork as ChildThread;
        const childVars = new Map(vars);
        const threadPath = `${ctx.thread}.${at}.fork`;
        const pid = yield* sys.fork((csys) => {
          return dataThreadBody(ctx.ledger, threadPath, child.steps, childVars, ctx.exprs)(csys);
        }, child.cpu ?? sys.task.cpu.id);
        if (typeof s.as === 'string') vars.set(s.as, pid);
        break;
      }
      case 'thread': {
        const child = s.thread as ChildThread;
        const threadPath = `${ctx.thread}.${at}.thread`;
        const task = sys.userland.spawnThread(
          sys.process,
          child.cpu ?? sys.task.cpu.id,
          dataThreadBody(ctx.ledger, threadPath, child.steps, new Map(vars), ctx.exprs),
          child.name,
        );
        if (typeof s.as === 'string') {
          vars.set(s.as, task.id);
          tasks.set(s.as, task);
        }
        break;
      }
      case 'wait': {
        const pid = num(s.wait, 'wait');
        const ret = yield* sys.waitpid(pid);
        if (typeof s.as === 'string') vars.set(s.as, ret);
        const expect = s.expect as Record<string, unknown> | undefined;
        if (expect !== undefined) {
          for (const [field, want] of Object.entries(expect)) {
            const actual = field === 'ret' ? ret : field === 'errno' ? sys.errno : undefined;
            check(ctx, at, 'waitpid', field, evalExpected(ctx, env, want), actual);
          }
        }
        break;
      }
      case 'join': {
        const task = tasks.get(s.join as string);
        if (task === undefined) {
          throw new MmsimError(
            'INVALID_ARGUMENT',
            `${ctx.thread}.${at}: no thread ${String(s.join)}`,
          );
        }
        yield* sys.userland.kernel.rt.join(task);
        break;
      }
      case 'repeat': {
        const n = num(s.repeat, 'repeat');
        for (let k = 0; k < n; k++) {
          if (typeof s.as === 'string') vars.set(s.as, k);
          yield* runSteps(sys, ctx, s.steps as ProgramStep[], `${at}[${k}].steps`, vars, tasks);
        }
        break;
      }
      case 'let':
        for (const [name, v] of Object.entries(s.let as Record<string, unknown>)) {
          vars.set(name, evalValue(ctx, env, v));
        }
        break;
      case 'exit':
        throw new ThreadExit(num(s.exit, 'exit'));
      case 'check': {
        const expect = s.expect as { value: unknown };
        const got = evalValue(ctx, env, s.check);
        check(ctx, at, 'check', 'value', evalExpected(ctx, env, expect.value), got);
        break;
      }
      case 'checkpoint':
        if (s.checkpoint === 'wait') yield* sys.checkpointWait(s.id as number);
        else sys.checkpointWake(s.id as number);
        break;
    }
  }
}

/**
 * The body of a thread that runs a list of steps (a program written as data): each call
 * goes through the `SYSCALLS` table with its arguments evaluated, each `expect` that does
 * not hold is recorded in the ledger (and the thread goes on). Returns the exit status.
 * `thread` names the thread in findings (`processes[0].threads[1]`).
 */
export function dataThreadBody(
  ledger: ProgramLedger,
  thread: string,
  steps: readonly ProgramStep[],
  vars: Map<string, ProgramValue> = new Map(),
  exprs: Map<string, ProgramExpr> = new Map(),
): ThreadBody {
  return function* (sys: Sys) {
    const c: ThreadContext = { ledger, process: sys.process, thread, exprs };
    try {
      yield* runSteps(sys, c, steps, 'steps', vars, new Map());
    } catch (error) {
      if (error instanceof ThreadExit) return error.status;
      throw error;
    }
    return 0;
  };
}

/** A process of a program written as data. */
export interface DataProgramProcess extends Omit<ProgramProcess, 'threads'> {
  readonly threads: readonly ChildThread[];
}

/**
 * A program written as data (the scenario-file `program` actor): processes whose threads
 * run lists of steps. The same `Program` as `program` gives, so it is one actor.
 */
export function dataProgram(
  kernel: Kernel,
  spec: { readonly name?: string; readonly processes: readonly DataProgramProcess[] },
): Program {
  const exprs = new Map<string, ProgramExpr>();
  const ledger = programLedger(kernel);
  return program(kernel, {
    ...(spec.name === undefined ? {} : { name: spec.name }),
    processes: spec.processes.map((p, pi) => ({
      ...p,
      threads: p.threads.map((t, ti) => ({
        body: dataThreadBody(ledger, `processes[${pi}].threads[${ti}]`, t.steps, new Map(), exprs),
        cpu: t.cpu ?? 0,
        ...(t.name === undefined ? {} : { name: t.name }),
      })),
    })),
  });
}
