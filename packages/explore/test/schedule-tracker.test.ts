import { RandomStream, Runtime, type Task } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { ScheduleTracker } from '../src/internal.js';

/**
 * The tracker as it was written first, as a reference: a flag a decision for "the default
 * choice", and `includes` for "the previous task can go on".
 */
class ReferenceTracker {
  readonly choices: number[] = [];
  readonly defaults: boolean[] = [];
  previous: Task | null = null;
  preemptions = 0;
  switches = 0;
  steps = 0;

  decide(eligible: readonly Task[], chosen: Task): void {
    const prev = this.previous;
    const fallback = prev !== null && eligible.includes(prev) ? prev : (eligible[0] as Task);
    const byDefault = chosen === fallback;
    if (!byDefault && fallback === this.previous) this.preemptions++;
    this.choices.push(chosen.id);
    this.defaults.push(byDefault);
  }

  stepped(task: Task): void {
    if (this.previous !== null && this.previous !== task) this.switches++;
    this.previous = task;
    this.steps++;
  }

  get shape() {
    return {
      steps: this.steps,
      decisions: this.choices.length,
      explicitDecisions: this.defaults.lastIndexOf(false) + 1,
      preemptions: this.preemptions,
      switches: this.switches,
    };
  }
}

describe('ScheduleTracker', () => {
  test('random decisions give the shape and choices of the reference tracker', () => {
    const rt = new Runtime({ cpus: 4 });
    const tasks: Task[] = [];
    for (let i = 0; i < 5; i++) tasks.push(rt.spawn(`t${i}`, i % 4, function* () {}));
    const rng = new RandomStream('test', 11);
    const kinds = new Set<string>();
    for (let run = 0; run < 200; run++) {
      const tracker = new ScheduleTracker();
      const reference = new ReferenceTracker();
      const decisions = rng.int(0, 70);
      for (let d = 0; d < decisions; d++) {
        // A random non-empty subset, in id order (the runtime's eligible list).
        let eligible = tasks.filter(() => rng.chance(0.5));
        if (eligible.length === 0) eligible = [rng.pick(tasks)];
        // Mostly the default (the previous task, or the lowest id), sometimes another.
        const fallback = tracker.defaultChoice(eligible);
        const chosen = rng.chance(0.6) ? fallback : rng.pick(eligible);
        tracker.decide(eligible, chosen);
        reference.decide(eligible, chosen);
        tracker.stepped(chosen);
        reference.stepped(chosen);
        // Now and then a step without a decision, by a task that may not have been chosen.
        if (rng.chance(0.2)) {
          const other = rng.pick(tasks);
          tracker.stepped(other);
          reference.stepped(other);
        }
      }
      expect(tracker.choices).toEqual(reference.choices);
      expect(tracker.defaults).toEqual(reference.defaults);
      expect(tracker.shape).toEqual(reference.shape);
      const s = reference.shape;
      kinds.add(
        s.explicitDecisions === 0
          ? 'all default'
          : s.explicitDecisions < s.decisions
            ? 'tail'
            : 'last',
      );
    }
    // Runs whose every choice was the default, whose last was not, and in between.
    expect([...kinds].sort()).toEqual(['all default', 'last', 'tail']);
  });
});
