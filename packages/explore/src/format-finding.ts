import { formatDeadlock, type TaskRef, type TraceEvent } from '@mmsim/runtime';
import type { Finding, ScheduleShape, StepRecord } from './finding.js';

export interface FormatOptions {
  /** Print at most this many steps (the first ones), then say how many were left out. */
  readonly maxSteps?: number;
  /**
   * What the `replay:` line says (default: the token). A command line passes the command
   * that replays the finding, which may name a token file instead of a long token.
   */
  readonly replay?: string;
}

function name(task: TaskRef): string {
  return `${task.name}-${task.id}`;
}

function value(v: unknown): string {
  if (typeof v === 'string') return /^[\w./:-]+$/.test(v) ? v : JSON.stringify(v);
  if (typeof v === 'object' && v !== null) return JSON.stringify(v);
  return String(v);
}

function event(e: TraceEvent): string {
  const fields = Object.entries(e.fields).map(([k, v]) => `${k}=${value(v)}`);
  return fields.length === 0 ? e.name : `${e.name} ${fields.join(' ')}`;
}

function outcome(s: StepRecord): string | null {
  switch (s.outcome) {
    case 'sleeps': {
      const held =
        s.heldBy === undefined || s.heldBy.length === 0 ? 'nobody' : s.heldBy.map(name).join(', ');
      return `sleeps in ${s.waitsIn} on ${s.resource} (held by ${held})`;
    }
    case 'timed-sleep':
      return 'sleeps for a while (timed)';
    case 'ends':
      return 'ends';
    case 'crashes':
      return 'throws (the run ends)';
    default:
      return null;
  }
}

/** One line per step: number, decision marks, task, CPU, then what the task did. */
export function formatStep(s: StepRecord, width = 1): string {
  const mark = s.preemption ? '!' : s.decision ? '*' : ' ';
  const who = s.task === null ? 'unknown task' : `${name(s.task)} on cpu ${s.task.cpu}`;
  const did = [
    ...s.took.map((lock) => `takes ${lock}`),
    ...s.events.map(event),
    ...s.released.map((lock) => `releases ${lock}`),
    ...s.handedOver.map((h) => `hands ${h.lock} to ${name(h.to)}`),
  ];
  const end = outcome(s);
  if (end !== null) did.push(end);
  if (did.length === 0) did.push('runs');
  return `${String(s.step).padStart(width)}${mark} ${who}: ${did.join('; ')}`;
}

function shape(s: ScheduleShape): string {
  return (
    `${s.steps} step(s), ${s.decisions} decision(s), ${s.preemptions} preemption(s), ` +
    `${s.switches} switch(es)`
  );
}

function detail(f: Finding): string {
  switch (f.kind) {
    case 'deadlock':
      return formatDeadlock(f.deadlock);
    case 'invariant':
      return `invariant ${f.invariant} failed ${f.phase === 'step' ? 'after a step' : 'at the end of the run'}:\n  ${f.violation}`;
    case 'crash':
      return `a task threw ${f.error.code}:\n  ${f.error.message}`;
    case 'step-limit':
      return f.message;
    default:
      // A kind of the target's checks: the check formatted its own report.
      return (f as { readonly detail: string }).detail;
  }
}

/**
 * A finding as text for a person: what went wrong (the wait-for cycle, the violated
 * invariant, the error, or a check's own report), how to replay it, then the numbered steps of
 * its schedule: who ran on which CPU, the runtime locks it took, released or handed over,
 * the tracepoints it emitted, and where it went to sleep. `*` marks a task chosen at a
 * decision, `!` a preemption.
 *
 * ```text
 * deadlock in target "ab-ba" (seed 3352061774): 4 step(s), 3 decision(s), 1 preemption(s), 2 switch(es)
 * deadlock: a wait-for cycle of 2 task(s)
 *   ab-1 [cpu 0] waits in lock_second for mutex B, held by ba-2 [cpu 1]
 *   ba-2 [cpu 1] waits in lock_second for mutex A, held by ab-1 [cpu 0]
 * replay: mmsim1.1jfqbf2.eyJtbXNpbS1leHBsb3JlIjoyLCJ0YXJnZXQiOiJhYi1iYSIsIm1heFN0ZXBzIjoxMDAwMDB9.AQECAg
 * steps (* chosen at a decision, ! preemption):
 *   1* ab-1 on cpu 0: takes mutex A
 *   2! ba-2 on cpu 1: takes mutex B
 *   3* ba-2 on cpu 1: sleeps in lock_second on mutex A (held by ab-1)
 *   4  ab-1 on cpu 0: sleeps in lock_second on mutex B (held by ba-2)
 * ```
 */
export function formatFinding(finding: Finding, options: FormatOptions = {}): string {
  const lines = [
    `${finding.kind} in target "${finding.target}" (seed ${finding.seed}): ${shape(finding.shape)}`,
    detail(finding),
    `replay: ${options.replay ?? finding.replay}`,
  ];
  const steps = finding.steps;
  if (steps === undefined) {
    lines.push('steps: not recorded (replay the token with replay() to record them)');
    return lines.join('\n');
  }
  const limit = options.maxSteps ?? steps.length;
  const width = String(steps.length).length;
  lines.push('steps (* chosen at a decision, ! preemption):');
  for (const s of steps.slice(0, limit)) lines.push(`  ${formatStep(s, width)}`);
  if (steps.length > limit) lines.push(`  ... ${steps.length - limit} more step(s)`);
  return lines.join('\n');
}
