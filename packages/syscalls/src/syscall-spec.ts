import type { KernelGen } from '@mmsim/runtime';
import type { z } from 'zod';
import type { Sys } from './sys.js';

/** What a system call gave back: its return value, and any out-parameters by name (`status`). */
export interface SyscallOutcome {
  readonly ret: number;
  readonly out?: Readonly<Record<string, unknown>>;
}

/**
 * A system call as programs written as data call it: its name (the C name), its arguments
 * by name with their schema (the scenario-file `program` actor validates steps with it, and
 * the JSON Schema of scenario files is generated from it), and how to run it on a thread's
 * `Sys`. After `run`, `sys.errno` holds the error of a call that returned -1.
 */
export interface SyscallSpec<A = unknown> {
  readonly name: string;
  /** One line: what the call does, for the schema's description. */
  readonly doc: string;
  readonly args: z.ZodType<A, z.ZodTypeDef, unknown>;
  run(sys: Sys, args: A): KernelGen<SyscallOutcome>;
}

/** Declares a system call for the table (a typed identity function). */
export function defineSyscall<A>(spec: SyscallSpec<A>): SyscallSpec<A> {
  return spec;
}
