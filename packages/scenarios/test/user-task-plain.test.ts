import { type Actor, type Kernel, touchPages } from '@mmsim/kernel';
import { MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import { type MmView, PAGE_SIZE } from '@mmsim/rmap';
import type { KernelGen, Task } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { type AccessPattern, pagePicker } from '../src/actors/access-pattern.js';
import { type UserTaskStats, userTask, userTaskStats } from '../src/actors/user-task.js';
import { mappedFolios, migrator, migratorStats, runScenario, type Scenario } from '../src/index.js';

type StrategyName = 'lowest-clock' | 'random' | 'pct';

interface Options {
  readonly cpu: number;
  readonly mm: MmView;
  readonly addr: number;
  readonly pages: number;
  readonly pattern: AccessPattern;
  readonly accesses: number;
  readonly writeRatio: number;
  readonly computeNs: number;
  readonly until: () => boolean;
  readonly stats: UserTaskStats;
}

/**
 * The user task as a generator with a `yield` after each access: the body `userTask` had
 * before it became a plain iterator, kept here as the oracle of its steps.
 */
function generatorUserTask(k: Kernel, o: Options): Actor {
  return {
    name: 'user',
    cpu: o.cpu,
    models: 'the reference user task',
    *body(task: Task): KernelGen {
      const rng = k.rt.random.workload;
      const pick = pagePicker(o.pattern, o.pages, rng);
      const who = String(task);
      for (let n = 0; n < o.accesses; n++) {
        if (o.until() === true) break;
        const at = o.addr + pick(n) * PAGE_SIZE;
        const where = k.shadow.userLocation(o.mm, at);
        if (rng.chance(o.writeRatio)) {
          const value = task.id * 1_000_000 + n + 1;
          if (!k.vm.userWriteFast(o.mm, at, value)) yield* k.vm.userWriteFaulted(o.mm, at, value);
          k.shadow.wrote(where, value, who);
          o.stats.stores++;
        } else {
          let value = k.vm.userReadFast(o.mm, at);
          if (Number.isNaN(value)) value = yield* k.vm.userReadFaulted(o.mm, at);
          const ok = k.shadow.read(where, value, who);
          o.stats.loads++;
          if (!ok) o.stats.mismatches++;
        }
        if (o.computeNs > 0) k.rt.charge(o.computeNs);
        yield;
      }
    },
  };
}

interface Outcome {
  readonly steps: number;
  readonly token: string;
  readonly clocks: readonly number[];
  readonly stats: readonly UserTaskStats[];
  readonly pagesMigrated: number;
  readonly violations: readonly string[];
  readonly faults: { reads: number; writes: number };
  /** Scheduling points of the user tasks taken without suspending them. */
  readonly virtualSteps: number;
  /** The content word of each page at the end. */
  readonly contents: readonly (number | null)[];
}

/**
 * Three threads of a process on 12 pages while a migrator moves them to node 1 and back
 * twice (so accesses fault on migration entries and wait), one thread stopping early
 * through `until`; the threads are `userTask`s or the reference generators.
 */
function run(plain: boolean, strategy: StrategyName, seed: number, checkSteps: boolean): Outcome {
  const pages = 12;
  const stats = [userTaskStats(), userTaskStats(), userTaskStats()];
  const mig = migratorStats();
  const faults = { reads: 0, writes: 0 };
  let virtualSteps = 0;
  let contents: () => (number | null)[] = () => [];
  const scenario: Scenario = {
    name: 'user-task-plain',
    title: 'user tasks under migration',
    description: 'a test scenario',
    sources: [],
    config: {
      nodes: [
        { pages: 512, cpus: 2 },
        { pages: 512, cpus: 2 },
      ],
      strategy,
      seed,
    },
    build(k) {
      const rt = k.rt;
      const virtualStep = rt.virtualStep.bind(rt);
      rt.virtualStep = () => {
        const taken = virtualStep();
        if (taken && rt.currentTask?.name === 'user') virtualSteps++;
        return taken;
      };
      const vm = k.vm;
      const readFaulted = vm.userReadFaulted.bind(vm);
      const writeFaulted = vm.userWriteFaulted.bind(vm);
      vm.userReadFaulted = (mm, at) => {
        faults.reads++;
        return readFaulted(mm, at);
      };
      vm.userWriteFaulted = (mm, at, value) => {
        faults.writes++;
        return writeFaulted(mm, at, value);
      };
      // the user task's way into the fault path (plain calls while no fault waits)
      const readFaultedPlain = vm.userReadFaultedPlain.bind(vm);
      const writeFaultedPlain = vm.userWriteFaultedPlain.bind(vm);
      vm.userReadFaultedPlain = (mm, at) => {
        faults.reads++;
        return readFaultedPlain(mm, at);
      };
      vm.userWriteFaultedPlain = (mm, at, value) => {
        faults.writes++;
        return writeFaultedPlain(mm, at, value);
      };
      const mm = k.createProcess('p');
      const addr = k.vm.mmap(mm, { length: pages * PAGE_SIZE });
      contents = () =>
        Array.from({ length: pages }, (_, i) =>
          k.shadow.current(k.shadow.userLocation(mm, addr + i * PAGE_SIZE)),
        );
      const patterns: AccessPattern[] = ['random', 'hot-set', 'sequential'];
      const threads = patterns.map((pattern, t) => {
        const o: Options = {
          cpu: t + 1,
          mm,
          addr,
          pages,
          pattern,
          accesses: 400,
          writeRatio: t === 2 ? 1 : 0.5,
          computeNs: t === 1 ? 0 : 500,
          // thread 0 stops with the migrator, the others run all their accesses
          until: t === 0 ? () => mig.rounds >= 4 : () => false,
          stats: stats[t] as UserTaskStats,
        };
        return plain ? userTask(k, { ...o, name: 'user' }) : generatorUserTask(k, o);
      });
      return {
        *setup() {
          yield* touchPages(k, mm, addr, pages, (i) => 100 + i);
        },
        actors: [
          migrator(k, {
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: 4,
            select: mappedFolios(k, mm, addr, pages),
            stats: mig,
          }),
          ...threads,
        ],
      };
    },
  };
  const r = runScenario(scenario, { checkSteps });
  expect(r.error).toBeNull();
  expect(r.result?.status).toBe('completed');
  return {
    steps: r.result?.steps ?? -1,
    token: r.result?.replayToken ?? '',
    clocks: r.result?.cpuClocks ?? [],
    stats,
    pagesMigrated: mig.pagesMigrated,
    violations: r.violations.map((v) => v.message),
    faults,
    virtualSteps,
    contents: contents(),
  };
}

describe('userTask as a plain iterator', () => {
  it('takes the steps, decisions, clocks and shadow records of a generator with a yield per access', () => {
    let faulted = { reads: 0, writes: 0 };
    let virtualSteps = 0;
    const runs: Array<[StrategyName, number]> = [
      ['lowest-clock', 1],
      ...[1, 2, 3, 4, 5].map((seed): [StrategyName, number] => ['random', seed]),
      ['pct', 7],
    ];
    // checked: a step hook is installed (told of each virtual step before its decision);
    // unchecked: none is; either way the user tasks run on through `Runtime.virtualStep`
    const takenWith = { hook: 0, noHook: 0 };
    for (const checkSteps of [true, false]) {
      for (const [strategy, seed] of runs) {
        const { virtualSteps: taken, ...plain } = run(true, strategy, seed, checkSteps);
        const { virtualSteps: none, ...reference } = run(false, strategy, seed, checkSteps);
        expect(plain, `${strategy} seed ${seed}, checkSteps ${checkSteps}`).toEqual(reference);
        expect(none).toBe(0);
        expect(plain.violations).toEqual([]);
        expect(plain.pagesMigrated).toBe(4 * 12);
        if (checkSteps) takenWith.hook += taken;
        else takenWith.noHook += taken;
        virtualSteps += taken;
        faulted = {
          reads: faulted.reads + plain.faults.reads,
          writes: faulted.writes + plain.faults.writes,
        };
      }
    }
    // both halves of an access that faults (on a migration entry) were exercised, and
    // accesses that ran on past their scheduling point without suspending
    expect(faulted.reads).toBeGreaterThan(0);
    expect(faulted.writes).toBeGreaterThan(0);
    expect(virtualSteps).toBeGreaterThan(0);
    expect(takenWith.hook).toBeGreaterThan(0);
    expect(takenWith.noHook).toBeGreaterThan(0);
  });

  it('ends at once with no access when until() holds before the first one', () => {
    const stats = userTaskStats();
    const scenario: Scenario = {
      name: 'user-task-until',
      title: 'a user task told to stop',
      description: 'a test scenario',
      sources: [],
      config: { nodes: [{ pages: 512, cpus: 2 }] },
      build(k) {
        const mm = k.createProcess('p');
        const addr = k.vm.mmap(mm, { length: 4 * PAGE_SIZE });
        return {
          actors: [
            userTask(k, { cpu: 1, mm, addr, pages: 4, accesses: 10, until: () => true, stats }),
          ],
        };
      },
    };
    const r = runScenario(scenario);
    expect(r.result?.status).toBe('completed');
    expect(r.result?.steps).toBe(1);
    expect(stats).toEqual({ loads: 0, stores: 0, mismatches: 0 });
  });
});
