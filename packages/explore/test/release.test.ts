import { type KernelGen, Mutex, Runtime } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { type ExplorationTarget, explore, replay } from '../src/index.js';

/**
 * AB-BA on two CPUs (deadlocks under some interleavings); each instance says when the
 * explorer releases it, and whether its run was over by then.
 */
function releasing(log: { built: number; released: number; releasedBeforeEnd: number }) {
  const target: ExplorationTarget = {
    name: 'ab-ba-releasing',
    instantiate(options) {
      log.built++;
      const rt = new Runtime({ cpus: 2, ...options.runtime });
      const a = new Mutex(rt, 'mutex A');
      const b = new Mutex(rt, 'mutex B');
      let done = 0;
      const take = (first: Mutex, second: Mutex) =>
        function* (): KernelGen {
          yield* first.lock('lock_first');
          yield;
          yield* second.lock('lock_second');
          second.unlock();
          first.unlock();
          done++;
        };
      rt.spawn('ab', 0, take(a, b));
      rt.spawn('ba', 1, take(b, a));
      let released = false;
      return {
        rt,
        invariants: [
          {
            name: 'not-released',
            check: () => (released ? 'the instance was used after its release' : null),
          },
        ],
        release() {
          if (released) throw new Error('released twice');
          released = true;
          log.released++;
          // A completed run is judged (end invariants) before the release.
          if (done < 2 && rt.tasks.some((t) => t.state === 'runnable')) log.releasedBeforeEnd++;
        },
      };
    },
  };
  return target;
}

describe('instances an exploration is done with', () => {
  test('are released once each, after their run is judged', () => {
    const log = { built: 0, released: 0, releasedBeforeEnd: 0 };
    const r = explore(releasing(log), { schedules: 40, stopOnFirst: false, shrink: false });
    expect(r.schedules).toBe(40);
    expect(log.built).toBeGreaterThanOrEqual(40);
    expect(log.released).toBe(log.built);
    expect(log.releasedBeforeEnd).toBe(0);
  });

  test('are released also when a finding is shrunk and recorded', () => {
    const log = { built: 0, released: 0, releasedBeforeEnd: 0 };
    const r = explore(releasing(log), { schedules: 200, seed: 3 });
    expect(r.kind).toBe('deadlock');
    expect(log.released).toBe(log.built);
  });

  test('are not released by a replay, which keeps its instance', () => {
    const log = { built: 0, released: 0, releasedBeforeEnd: 0 };
    const target = releasing(log);
    const r = explore(target, { schedules: 200, seed: 3 });
    expect(r.finding).not.toBeNull();
    const before = { ...log };
    const again = replay(target, r.finding?.replay as string);
    expect(again.finding?.kind).toBe('deadlock');
    expect(log.built).toBe(before.built + 1);
    expect(log.released).toBe(before.released);
  });

  test('a release that is not a function is misuse (INVALID_CONFIG)', () => {
    const target: ExplorationTarget = {
      name: 'bad-release',
      instantiate(options) {
        const rt = new Runtime({ cpus: 1, ...options.runtime });
        rt.spawn('t', 0, function* (): KernelGen {
          yield;
        });
        return { rt, invariants: [], release: 5 as unknown as () => void };
      },
    };
    expect(() => explore(target, { schedules: 1 })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONFIG' }),
    );
  });
});
