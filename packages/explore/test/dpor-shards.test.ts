import { FootprintLog, type KernelGen, Runtime } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import {
  type DporShardResult,
  dporSubtreeSizes,
  type ExplorationTarget,
  type ExploreOptions,
  type ExploreResult,
  explore,
  exploreDporShards,
  type InstanceOptions,
  mergeDporShards,
  runDporShard,
} from '../src/index.js';
import { runClassHash } from '../src/internal.js';
import { abba, independent, lostUpdate } from './targets.js';

/**
 * `tasks` tasks sharing nothing (declared), two to a CPU: the runs of different subtrees
 * (another task first) are often of one interleaving class.
 */
function sharingNothing(tasks: number, steps: number, cpus: number): ExplorationTarget {
  return {
    name: `sharing-nothing-${tasks}x${steps}`,
    instantiate(options: InstanceOptions) {
      const rt = new Runtime({ cpus, declaredFootprints: true, ...options.runtime });
      for (let i = 0; i < tasks; i++) {
        rt.spawn(`t${i}`, i % cpus, function* (): KernelGen {
          for (let s = 0; s < steps; s++) yield;
        });
      }
      return { rt, invariants: [] };
    },
  };
}

/** The fields of a result that must not depend on how the search was split. */
function essentials(r: ExploreResult) {
  return {
    found: r.found,
    kind: r.kind,
    message: r.message,
    replay: r.replay,
    findingIndex: r.findingIndex,
    findingSubtree: r.findingSubtree,
    schedules: r.schedules,
    executions: r.executions,
    findings: r.findings,
    findingsByKind: r.findingsByKind,
    findingsByName: r.findingsByName,
    stoppedBy: r.stoppedBy,
    exhausted: r.exhausted,
    bound: r.bound,
    classes: r.classes,
    classHashes: r.classHashes,
    stepLimit: r.stepLimit,
  };
}

function inShards(target: ExplorationTarget, options: ExploreOptions, count: number) {
  const shards = Array.from({ length: count }, (_, index) =>
    runDporShard(target, options, { index, count }),
  );
  return mergeDporShards(target, options, shards, 1);
}

const cases: [string, () => ExplorationTarget, ExploreOptions][] = [
  ['independent tasks, exhausted', () => independent(3, 2), { strategy: 'dpor' }],
  [
    'independent tasks, bound 1',
    () => independent(3, 3),
    { strategy: { kind: 'dpor', preemptionBound: 1 } },
  ],
  [
    'independent tasks, cut by --schedules',
    () => independent(3, 3),
    { strategy: 'dpor', schedules: 7 },
  ],
  ['lost update, first finding', () => lostUpdate(), { strategy: 'dpor', shrink: false }],
  [
    'lost update, every finding',
    () => lostUpdate(),
    { strategy: 'dpor', stopOnFirst: false, shrink: false },
  ],
  ['AB-BA deadlock, shrunk', () => abba(), { strategy: 'dpor' }],
  [
    'a shard of the search',
    () => independent(3, 2),
    { strategy: 'dpor', shard: { index: 1, count: 2 } },
  ],
];

describe('a DPOR search in sub-shards, merged', () => {
  test.each(cases)(
    '%s: the result of the search on one thread, for any count',
    (_, make, options) => {
      const whole = essentials(explore(make(), options));
      for (const count of [1, 2, 3, 5]) {
        expect({ count, ...essentials(inShards(make(), options, count)) }).toEqual({
          count,
          ...whole,
        });
      }
    },
  );

  test("the classes are the union of the shards' sets, not the sum of their counts", () => {
    // Runs of different subtrees are often of one class (their first steps commute).
    const target = sharingNothing(4, 2, 2);
    const options: ExploreOptions = { strategy: 'dpor' };
    const shards = [0, 1, 2].map((index) => runDporShard(target, options, { index, count: 3 }));
    const summed = shards.reduce(
      (s, r) => s + r.records.reduce((t, rec) => t + rec.classAt.length, 0),
      0,
    );
    const merged = mergeDporShards(target, options, shards, 1);
    expect(merged.classes).toBe(explore(target, options).classes);
    expect(summed).toBeGreaterThan(merged.classes as number);
  });

  test('exploreDporShards hands out every sub-shard once, biggest guess first, with the same result', async () => {
    const options: ExploreOptions = { strategy: 'dpor', stopOnFirst: false, shrink: false };
    const sizes = dporSubtreeSizes(lostUpdate(), options);
    const whole = runDporShard(lostUpdate(), options, { index: 0, count: 1 });
    expect(sizes).toHaveLength(whole.subtrees);
    for (const size of sizes) expect(size).toBeGreaterThanOrEqual(1);
    const order: number[] = [];
    const count = whole.subtrees + 2; // two sub-shards own no subtree
    const result = await exploreDporShards(lostUpdate(), options, {
      shards: count,
      run: async (index) => {
        order.push(index);
        return runDporShard(lostUpdate(), options, { index, count });
      },
    });
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i));
    // Sub-shard j owns subtree j here: the first handed out has the biggest guess.
    expect(sizes[order[0] as number]).toBe(Math.max(...sizes));
    expect(essentials(result)).toEqual(essentials(explore(lostUpdate(), options)));
  });

  test('runDporShard stops before its next run once interrupted says so: what it ran, not exhausted', () => {
    const options: ExploreOptions = { strategy: 'dpor' };
    const runsOf = (r: DporShardResult) => r.records.reduce((s, rec) => s + rec.runs, 0);
    const whole = runDporShard(independent(3, 3), options, { index: 0, count: 1 });
    expect(runsOf(whole)).toBeGreaterThan(4);
    let calls = 0;
    const part = runDporShard(independent(3, 3), options, {
      index: 0,
      count: 1,
      interrupted: () => ++calls > 4,
    });
    expect(part.stoppedBy).toBe('interrupted');
    expect(part.exhausted).toBe(false);
    expect(runsOf(part)).toBe(4);
    expect(part.records.at(-1)?.complete).toBe(false);
  });

  test('onProgress throwing while no sub-shard has finished stops them (runner.stop), tells what they covered, and throws', async () => {
    const target = independent(3, 3);
    const options: ExploreOptions = { strategy: 'dpor' };
    const count = 2;
    const ctrlC = new Error('Ctrl-C');
    const told: number[] = [];
    let stops = 0;
    const pending: (() => void)[] = [];
    // Long sub-shards: each answers only once asked to stop, with the runs it made until
    // the request reached it (three checks in).
    const result = exploreDporShards(
      target,
      {
        ...options,
        onProgress: (p) => {
          told.push(p.schedule);
          throw ctrlC;
        },
      },
      {
        shards: count,
        run: (index) =>
          new Promise<DporShardResult>((done) => {
            let checks = 0;
            pending.push(() =>
              done(
                runDporShard(target, options, { index, count, interrupted: () => ++checks > 3 }),
              ),
            );
          }),
        stop: () => {
          stops++;
          for (const answer of pending.splice(0)) answer();
        },
      },
    );
    await expect(result).rejects.toBe(ctrlC);
    expect(stops).toBe(1);
    // The poll (nothing finished: 0), then the runs the two sub-shards made before they
    // stopped (three at most each, probes of the other's subtrees not counted).
    expect(told).toHaveLength(2);
    expect(told[0]).toBe(0);
    expect(told[1]).toBeGreaterThan(0);
    expect(told[1]).toBeLessThanOrEqual(2 * 3);
  });

  test('a missing or repeated sub-shard is refused', () => {
    const target = independent(2, 2);
    const options: ExploreOptions = { strategy: 'dpor' };
    const one = runDporShard(target, options, { index: 0, count: 2 });
    expect(() => mergeDporShards(target, options, [one], 1)).toThrow(/sub-shards 0 … 1/);
    expect(() => mergeDporShards(target, options, [one, one], 1)).toThrow(/sub-shards 0 … 1/);
  });
});

describe('runClassHash', () => {
  function log(steps: [task: number, objects: [id: number, write: boolean][]][]): FootprintLog {
    const l = new FootprintLog();
    for (const [task, objects] of steps) {
      l.begin(task, task, false);
      for (const [id, write] of objects) l.touch(id, write);
      l.end();
    }
    return l;
  }
  test('runs that swap independent steps share a hash; swapping dependent ones does not', () => {
    const a: [number, [number, boolean][]] = [1, [[100, true]]];
    const b: [number, [number, boolean][]] = [2, [[200, true]]];
    const c: [number, [number, boolean][]] = [2, [[100, false]]];
    expect(runClassHash(log([a, b]))).toBe(runClassHash(log([b, a])));
    expect(runClassHash(log([a, c]))).not.toBe(runClassHash(log([c, a])));
    // The same hash as FootprintLog.classKey's classes: equal keys, equal hashes.
    expect(log([a, b]).classKey()).toBe(log([b, a]).classKey());
  });
});
