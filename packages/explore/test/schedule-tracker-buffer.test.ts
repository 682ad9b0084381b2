import { Runtime, type Task } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { ScheduleTracker } from '../src/internal.js';

/** `n` decisions among `tasks`, a pattern of ids that differs with `salt`. */
function decide(
  tracker: ScheduleTracker,
  tasks: readonly Task[],
  n: number,
  salt: number,
): number[] {
  const ids: number[] = [];
  for (let d = 0; d < n; d++) {
    const chosen = tasks[(d * 7 + salt) % tasks.length] as Task;
    tracker.decide(tasks, chosen);
    tracker.stepped(chosen);
    ids.push(chosen.id);
  }
  return ids;
}

describe("the tracker's choices outlive the buffer it hands on", () => {
  const rt = new Runtime({ cpus: 2 });
  const tasks: Task[] = [];
  for (let i = 0; i < 5; i++) tasks.push(rt.spawn(`t${i}`, i % 2, function* () {}));

  test('a finished tracker keeps its choices while later trackers fill the buffer', () => {
    // Sizes below, at and past the first buffer (256) and past its doubling.
    const kept: { tracker: ScheduleTracker; ids: number[] }[] = [];
    for (const [salt, n] of [0, 1, 255, 256, 257, 600, 40].entries()) {
      const tracker = new ScheduleTracker();
      const ids = decide(tracker, tasks, n, salt);
      tracker.finish();
      kept.push({ tracker, ids });
    }
    for (const { tracker, ids } of kept) {
      expect(tracker.choices).toEqual(ids);
      expect(tracker.shape.decisions).toBe(ids.length);
      expect(tracker.defaults.length).toBe(ids.length);
    }
  });

  test('reads in the middle of a run, and decisions after finish, see every choice', () => {
    const tracker = new ScheduleTracker();
    const first = decide(tracker, tasks, 300, 3);
    const early = tracker.choices;
    expect(early).toEqual(first);
    expect(tracker.choices).toBe(early); // the same list until the next decision
    const second = decide(tracker, tasks, 10, 4);
    expect(early).toEqual(first); // a list read earlier is not changed by later decisions
    expect(tracker.choices).toEqual([...first, ...second]);
    tracker.finish();
    // Another tracker takes the buffer and writes over it.
    const other = new ScheduleTracker();
    decide(other, tasks, 400, 1);
    const third = decide(tracker, tasks, 5, 2);
    expect(tracker.choices).toEqual([...first, ...second, ...third]);
    other.finish();
    tracker.finish();
    expect(tracker.choices).toEqual([...first, ...second, ...third]);
  });
});
