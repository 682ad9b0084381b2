import type { Resource, Runtime, Task, TaskRef, TraceEvent } from '@mmsim/runtime';
import type { StepRecord } from './finding.js';
import type { ScheduleTracker } from './schedule-tracker.js';

function ref(task: Task): TaskRef {
  return { id: task.id, name: task.name, cpu: task.cpu.id };
}

function sameList(a: readonly Resource[], b: readonly Resource[]): boolean {
  return a.length === b.length && a.every((r, i) => r === b[i]);
}

/**
 * Records what every step of a run did, for the report: the tracepoints the task emitted
 * (a `'*'` listener on the trace bus), and from `onStep` who ran, whether it was chosen
 * at a decision, where it went to sleep, and which runtime locks changed hands (runtime
 * locks emit no tracepoints, so every task's `held` list is compared with the last step's).
 */
export class StepRecorder {
  readonly steps: StepRecord[] = [];
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

  /** What changed in every task's held locks since the last step. */
  #locks(task: Task | null) {
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
    return { took, released, handedOver };
  }

  /** Called from `onStep` before the tracker learns of the step. */
  stepped(task: Task, step: number, tracker: ScheduleTracker): void {
    const decision = tracker.pending === task;
    const base = {
      step,
      task: ref(task),
      decision,
      preemption: decision && tracker.pendingPreempts,
      events: this.#take(),
      ...this.#locks(task),
    };
    const waiting = task.waiting;
    if (task.state === 'sleeping' && waiting !== null) {
      this.steps.push({
        ...base,
        outcome: 'sleeps',
        waitsIn: waiting.waitsIn,
        resource: waiting.resource.name,
        heldBy: waiting.resource.holders().map(ref),
      });
      return;
    }
    const outcome =
      task.state === 'done' ? 'ends' : task.state === 'timed' ? 'timed-sleep' : 'runs';
    this.steps.push({ ...base, outcome });
  }

  /** The step that threw (`task` as `ScheduleTracker.crashedTask` guessed it). */
  crashed(task: Task | null, step: number, tracker: ScheduleTracker): void {
    const decision = task !== null && tracker.pending === task;
    this.steps.push({
      step,
      task: task === null ? null : ref(task),
      decision,
      preemption: decision && tracker.pendingPreempts,
      events: this.#take(),
      ...this.#locks(task),
      outcome: 'crashes',
    });
  }

  #take(): TraceEvent[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }
}
