import { Cpu, Task } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { ScheduleTracker } from '../src/internal.js';

describe('schedule tracker', () => {
  test('explicit decisions end at the last choice that was not the default', () => {
    const cpu = new Cpu(0, 0);
    const [a, b, c] = [1, 2, 3].map((id) => new Task(id, `t${id}`, cpu)) as [Task, Task, Task];
    const tracker = new ScheduleTracker();
    const all = [a, b, c];
    // No previous task: the default is the lowest id.
    tracker.decide(all, a);
    tracker.stepped(a);
    expect(tracker.shape.explicitDecisions).toBe(0);
    // a could go on: choosing b is explicit (and a preemption).
    tracker.decide(all, b);
    tracker.stepped(b);
    expect(tracker.shape.explicitDecisions).toBe(2);
    expect(tracker.shape.preemptions).toBe(1);
    // Defaults after it leave the count at the last explicit one.
    tracker.decide(all, b);
    tracker.stepped(b);
    tracker.decide([a, c], a);
    tracker.stepped(a);
    expect(tracker.shape).toEqual({
      steps: 4,
      decisions: 4,
      explicitDecisions: 2,
      preemptions: 1,
      switches: 2,
    });
    // a ran last and could go on: choosing c is explicit and a preemption.
    tracker.decide([a, c], c);
    tracker.stepped(c);
    expect(tracker.shape.explicitDecisions).toBe(5);
    expect(tracker.shape.preemptions).toBe(2);
    expect(tracker.choices).toEqual([1, 2, 2, 1, 3]);
  });
});
