import type { StepRecord } from '@mmsim/explore';
import { formatFieldsGeneric, type TraceEvent } from '@mmsim/runtime';
import type { ReportStep } from './report-data.js';

/** Formats a tracepoint's fields; a runtime's `rt.trace.formatFields` gives the TP_printk. */
export type EventFormatter = (event: TraceEvent) => string;

const generic: EventFormatter = (event) => formatFieldsGeneric(event.fields);

const taskName = (t: { readonly id: number; readonly name: string }) => `${t.name}-${t.id}`;

/** The recorded steps of a run as the report shows them (lanes and detail panel). */
export function reportSteps(
  steps: readonly StepRecord[],
  format: EventFormatter = generic,
): ReportStep[] {
  return steps.map((s) => {
    const woke: string[] = [];
    for (const e of s.events) {
      if (e.name !== 'sched_wakeup') continue;
      const f = e.fields as { comm?: unknown; pid?: unknown };
      woke.push(`${String(f.comm)}-${String(f.pid)}`);
    }
    return {
      step: s.step,
      task: s.task === null ? null : { id: s.task.id, name: s.task.name, cpu: s.task.cpu },
      outcome: s.outcome,
      decision: s.decision,
      preemption: s.preemption,
      ...(s.waitsIn === undefined ? {} : { waitsIn: s.waitsIn }),
      ...(s.resource === undefined ? {} : { resource: s.resource }),
      ...(s.heldBy === undefined ? {} : { heldBy: s.heldBy.map(taskName) }),
      took: [...s.took],
      released: [...s.released],
      handedOver: s.handedOver.map((h) => `${h.lock} to ${taskName(h.to)}`),
      woke,
      events: s.events.map((e) => ({ name: e.name, ts: e.ts, text: format(e) })),
    };
  });
}
