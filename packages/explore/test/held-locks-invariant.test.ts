import { type KernelGen, type Resource, Runtime, type Task } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { HELD_LOCKS_CONSISTENT, runtimeInvariants } from '../src/index.js';

/** A resource whose holders are the tasks listed (neither a mutex nor an rwsem). */
function resource(name: string, holders: Task[]): Resource {
  return { name, holders: () => holders };
}

describe('held-locks-consistent walks every task and every lock it lists', () => {
  test('a bogus lock listed after legal ones, by the last task, is caught; legal lists pass', () => {
    const rt = new Runtime({ cpus: 2 });
    const body = function* (): KernelGen {};
    const first = rt.spawn('first', 0, body);
    rt.spawn('idle', 1, body);
    const last = rt.spawn('last', 1, body);
    const inv = runtimeInvariants(rt).find((i) => i.name === HELD_LOCKS_CONSISTENT)!;
    expect(inv.check('step')).toBeNull();
    // Legal: two tasks list locks they hold, the last one several.
    first.hold(resource('lock a', [first]));
    last.hold(resource('lock b', [last, first]));
    last.hold(resource('lock c', [last]));
    expect(inv.check('step')).toBeNull();
    // The third lock of the last task names another holder: caught.
    last.hold(resource('lock d', [first]));
    expect(inv.check('step')).toBe('last-3 lists lock d as held, but its holders are first-1');
    // Released again: legal.
    last.release(last.held[2]!);
    expect(inv.check('step')).toBeNull();
  });
});
