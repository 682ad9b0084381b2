import type { Kernel } from '@mmsim/kernel';
import {
  CAP_LAST_CAP,
  CAP_SETUID,
  CAP_SYS_ADMIN,
  CAP_SYS_NICE,
  CAP_SYS_PTRACE,
  type ChildThread,
  dataProgram,
  type ProgramStep,
  programStepsProblem,
  programStepsSchema,
} from '@mmsim/syscalls';
import { z } from 'zod';
import { count, name } from './scenario-fields.js';

/** Capabilities a file may name (the ones the model checks), by their C names. */
const CAPS = {
  CAP_SETUID,
  CAP_SYS_PTRACE,
  CAP_SYS_ADMIN,
  CAP_SYS_NICE,
} as const;

const capSchema = z.union(
  [
    z.enum(Object.keys(CAPS) as [keyof typeof CAPS, ...(keyof typeof CAPS)[]]),
    count('a capability number', 0, CAP_LAST_CAP),
  ],
  {
    errorMap: () => ({
      message: `must be ${Object.keys(CAPS).join(', ')} or a capability number in [0, ${CAP_LAST_CAP}]`,
    }),
  },
);

const threadSchema = z
  .object({
    name: name.optional().describe("The thread's comm; default the process's name."),
    cpu: count('a CPU number', 0, 4095).describe("The CPU it runs on (one of the machine's)."),
    steps: programStepsSchema(),
  })
  .strict()
  .describe('A thread: its steps, one system call or memory access each.');

const programProcessSchema = z
  .object({
    name: name.describe('The comm of the process.'),
    uid: count('a user id', 0, 0xffff_fffe)
      .optional()
      .describe('Real, effective and saved uid; default 0 (root).'),
    caps: z
      .array(capSchema)
      .optional()
      .describe('Its capabilities; default every one for uid 0, none for another uid.'),
    cpuset: z
      .object({
        mems: z
          .array(count('a node id', 0, 63))
          .min(1, { message: 'must list at least one node' })
          .describe('cpuset.mems: the nodes it may allocate on.'),
        memoryMigrate: z.boolean().optional().describe('cpuset.memory_migrate; default false.'),
      })
      .strict()
      .optional()
      .describe('A cpuset of its own; default the root cpuset (every node).'),
    threads: z
      .array(threadSchema)
      .min(1, { message: 'must list at least one thread' })
      .max(64, { message: 'must list at most 64 threads' })
      .describe("Its threads; the first one's exit status is the process's."),
  })
  .strict()
  .describe('A process of the program: credentials, cpuset and threads.');

/**
 * `program`: processes whose threads run steps, one system call (of the `SYSCALLS` table of
 * @mmsim/syscalls, by its C name and arguments) or memory access each, with expectations;
 * see docs/programs.md.
 */
export const programActorSchema = z
  .object({
    type: z
      .literal('program')
      .describe('A user program: processes whose threads make system calls, as a C test does.'),
    name: name.optional().describe('The comm of the task that starts it; default program<index>.'),
    processes: z
      .array(programProcessSchema)
      .min(1, { message: 'must list at least one process' })
      .max(64, { message: 'must list at most 64 processes' })
      .describe('Its processes, created in order (pids 1, 2, ... in the order of all programs).'),
  })
  .strict();

export type ProgramActorFile = z.infer<typeof programActorSchema>;

/** Every CPU a step of `steps` names (`fork` and `thread` children), with its path. */
function childCpus(steps: readonly ProgramStep[], path: string, out: [string, number][]): void {
  for (const [i, step] of steps.entries()) {
    const s = step as Record<string, unknown>;
    for (const kind of ['fork', 'thread'] as const) {
      const child = s[kind] as ChildThread | undefined;
      if (child === undefined) continue;
      if (child.cpu !== undefined) out.push([`${path}[${i}].${kind}.cpu`, child.cpu]);
      childCpus(child.steps, `${path}[${i}].${kind}.steps`, out);
    }
    if (Array.isArray(s.steps)) childCpus(s.steps as ProgramStep[], `${path}[${i}].steps`, out);
  }
}

/**
 * The cross-field rules of a program actor (`actors[index]`): thread CPUs are CPUs of the
 * machine, cpuset nodes are its nodes, and every expression parses and reads only names
 * defined before it. Returns `[field, message]` of the first problem, or null.
 */
export function programActorProblem(
  a: ProgramActorFile,
  index: number,
  cpus: number,
  nodes: number,
): [string, string] | null {
  const at = `actors[${index}]`;
  for (const [p, proc] of a.processes.entries()) {
    const mems = proc.cpuset?.mems ?? [];
    const m = mems.findIndex((n) => n >= nodes);
    if (m >= 0) {
      return [
        `${at}.processes[${p}].cpuset.mems[${m}]`,
        `is node ${mems[m]}, but the machine has ${nodes} node${nodes === 1 ? '' : 's'} (0 to ${nodes - 1})`,
      ];
    }
    const where: [string, number][] = [];
    for (const [t, thread] of proc.threads.entries()) {
      where.push([`${at}.processes[${p}].threads[${t}].cpu`, thread.cpu]);
      childCpus(thread.steps as ProgramStep[], `${at}.processes[${p}].threads[${t}].steps`, where);
    }
    const bad = where.find(([, cpu]) => cpu >= cpus);
    if (bad !== undefined) {
      return [
        bad[0],
        `is ${bad[1]}, but the machine has ${cpus} CPU${cpus === 1 ? '' : 's'} (0 to ${cpus - 1})`,
      ];
    }
    const problem = programStepsProblem(
      proc.threads as unknown as { readonly steps: readonly ProgramStep[] }[],
    );
    if (problem !== null) return [`${at}.processes[${p}].threads${problem[0]}`, problem[1]];
  }
  return null;
}

/** The actor of a validated program actor, on the scenario's machine. */
export function programActor(k: Kernel, a: ProgramActorFile, index: number) {
  return dataProgram(k, {
    name: a.name ?? `program${index}`,
    processes: a.processes.map((p) => ({
      name: p.name,
      ...(p.uid === undefined ? {} : { uid: p.uid }),
      ...(p.caps === undefined
        ? {}
        : { caps: p.caps.map((c) => (typeof c === 'number' ? c : CAPS[c])) }),
      ...(p.cpuset === undefined
        ? {}
        : {
            cpuset: {
              mems: p.cpuset.mems,
              ...(p.cpuset.memoryMigrate === undefined
                ? {}
                : { memoryMigrate: p.cpuset.memoryMigrate }),
            },
          }),
      threads: p.threads.map((t) => ({
        cpu: t.cpu,
        ...(t.name === undefined ? {} : { name: t.name }),
        steps: t.steps as ProgramStep[],
      })),
    })),
  }).actor;
}
