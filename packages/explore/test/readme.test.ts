import { readFileSync } from 'node:fs';
import { type KernelGen, Mutex, Runtime } from '@mmsim/runtime';
import { expect, test } from 'vitest';
import {
  type ExplorationTarget,
  explore,
  formatFinding,
  replay,
  stepInvariant,
} from '../src/index.js';

/** The README's example, run: its printed report must be what the README shows. */
const abba: ExplorationTarget = {
  name: 'ab-ba',
  instantiate({ runtime }) {
    const rt = new Runtime({ cpus: 2, ...runtime });
    const a = new Mutex(rt, 'mutex A');
    const b = new Mutex(rt, 'mutex B');
    let inside = 0;
    const both = (first: Mutex, second: Mutex) =>
      function* (): KernelGen {
        yield* first.lock('lock_first');
        yield;
        yield* second.lock('lock_second');
        inside++;
        yield;
        inside--;
        second.unlock();
        first.unlock();
      };
    rt.spawn('ab', 0, both(a, b));
    rt.spawn('ba', 1, both(b, a));
    const exclusive = stepInvariant('one-inside', () =>
      inside <= 1 ? null : `${inside} tasks inside the critical section`,
    );
    return { rt, invariants: [exclusive] };
  },
};

test('the README example prints what the README says', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const shown = /prints\n\n```text\n([\s\S]*?)\n```/.exec(readme)?.[1];
  const result = explore(abba, { strategy: 'random', seed: 1, schedules: 500 });
  expect(result.kind).toBe('deadlock');
  expect(formatFinding(result.finding!)).toBe(shown);
  expect(replay(abba, result.replay!).finding).toEqual(result.finding);
  const dfs = explore(abba, { strategy: { kind: 'dfs', preemptionBound: 1 }, stopOnFirst: false });
  expect([dfs.schedules, dfs.findingsByKind.deadlock, dfs.exhausted]).toEqual([6, 2, true]);
});
