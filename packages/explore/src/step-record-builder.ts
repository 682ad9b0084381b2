import type { Resource, Runtime, Task, TaskRef, TraceEvent } from '@mmsim/runtime';
import type { StepRecord } from './finding.js';

function ref(task: Task): TaskRef {
  return { id: task.id, name: task.name, cpu: task.cpu.id };
}

function sameList(a: readonly Resource[], b: readonly Resource[]): boolean {
  return a.length === b.length && a.every((r, i) => r === b[i]);
}

/**
 * Builds the `StepRecord` of each step of a run: the tracepoints the task emitted (a `'*'`
 * listener on the trace bus), where it went to sleep, and which runtime locks changed hands
 * (runtime locks emit no tracepoints, so every task's `held` list is compared with the last
 * step's). The explorer's finding and the HTML report both record steps with it; create it
 * once the runtime exists and call `record` from the runtime's `onStep` hook, once per step.
 */
export class StepRecordBuilder {
  readonly #rt: Runtime;
  #events: TraceEvent[] = [];
  readonly #held = new Map<Task, readonly Resource[]>();

  constructor(rt: Runtime) {
    this.#rt = rt;
    rt.trace.on('*', (event) => {
      // A CPU going idle or leaving idle (a sched_switch from or to pid 0) says nothing the
      // step's line (who ran on which CPU, where it slept) does not.
      if (event.name === 'sched_switch') {
        const f = event.fields as { prev_pid?: number; next_pid?: number };
        if (f.prev_pid === 0 || f.next_pid === 0) return;
      }
      this.#events.push(event);
    });
  }

  /**
   * The record of the step `task` just ran; `decision` / `preemption` say whether an
   * explorer chose it at a decision point and whether that choice preempted another task.
   */
  record(task: Task, step: number, decision = false, preemption = false): StepRecord {
    const base = { step, task: ref(task), decision, preemption, ...this.#common(task) };
    const waiting = task.waiting;
    if (task.state === 'sleeping' && waiting !== null) {
      return {
        ...base,
        outcome: 'sleeps',
        waitsIn: waiting.waitsIn,
        resource: waiting.resource.name,
        heldBy: waiting.resource.holders().map(ref),
      };
    }
    const outcome =
      task.state === 'done' ? 'ends' : task.state === 'timed' ? 'timed-sleep' : 'runs';
    return { ...base, outcome };
  }

  /** The record of a step that threw (`task` as far as the caller could tell). */
  crashed(task: Task | null, step: number, decision = false, preemption = false): StepRecord {
    return {
      step,
      task: task === null ? null : ref(task),
      decision,
      preemption,
      ...this.#common(task),
      outcome: 'crashes',
    };
  }

  /** The step's tracepoints, and what changed in every task's held locks since the last step. */
  #common(task: Task | null) {
    const events = this.#events;
    this.#events = [];
    const took: string[] = [];
    const released: string[] = [];
    const handedOver: { lock: string; to: TaskRef }[] = [];
    for (const t of this.#rt.tasks) {
      const before = this.#held.get(t) ?? [];
      if (sameList(before, t.held)) continue;
      for (const r of t.held) {
        if (before.includes(r)) continue;
        if (t === task) took.push(r.name);
        else handedOver.push({ lock: r.name, to: ref(t) });
      }
      if (t === task) for (const r of before) if (!t.held.includes(r)) released.push(r.name);
      this.#held.set(t, [...t.held]);
    }
    return { events, took, released, handedOver };
  }
}
