import { isolateForMigration } from '@mmsim/callers';
import { explore } from '@mmsim/explore';
import {
  type Folio,
  FolioList,
  folioNid,
  folioRefCount,
  folioTestFlag,
  frameView,
  PG_locked,
  pageContent,
} from '@mmsim/folio';
import {
  type Actor,
  filemapLockFolio,
  folioClearDirtyForIo,
  folioMarkDirty,
  folioUnlockPut,
  type Kernel,
  pageCacheDeclaresFootprints,
  pageCacheLookup,
  pageCacheWord,
  populateFile,
  setPageCacheWord,
  type VariantName,
} from '@mmsim/kernel';
import {
  BLOCKDEV_AOPS,
  MIGRATE_SYNC,
  MIGRATE_SYNC_LIGHT,
  type MigrateMode,
  MR_COMPACTION,
  MR_SYSCALL,
  SHMEM_AOPS,
} from '@mmsim/migrate';
import { type AddressSpaceView, MAP_SHARED, type MmView, PAGE_SIZE } from '@mmsim/rmap';
import {
  type DecisionAlternatives,
  DepthFirstSchedules,
  exploreWithDpor,
  FIRST_OBJECT_ID,
  FootprintLog,
  FP_FOLIO,
  FP_LRU_LIST,
  FP_MAPPING,
  FP_PCP,
  FP_VMSTAT,
  FP_ZONE,
  type KernelGen,
  kernelObjectId,
  type Strategy,
  type Task,
} from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { bufferWriter } from '../src/actors/buffer-writer.js';
import { fileIoTask } from '../src/actors/file-io.js';
import { LoopDevice } from '../src/actors/loop-device.js';
import { WorkQueue } from '../src/actors/work-queue.js';
import { writebackWorker } from '../src/actors/writeback-worker.js';
import {
  BUILTIN_SCENARIOS,
  instantiateScenario,
  mappedFolios,
  migrator,
  nodeScan,
  rangeLocker,
  type Scenario,
  type ScenarioName,
  scenarioTarget,
} from '../src/index.js';

/**
 * Soundness of the kernel-model footprints: small kernel programs (tasks locking page-cache
 * folios, a migrator moving them) explored by DPOR with the footprints the folio lock and
 * page-cache paths declare give exactly the outcomes (final state, deadlocks) of the
 * unreduced preemption-bounded DFS.
 */

/**
 * `rounds` times: locks `indices` of `file` in that order (a `__filemap_get_folio(FGP_LOCK)`
 * each), then unlocks them.
 */
function locker(
  k: Kernel,
  file: AddressSpaceView,
  name: string,
  cpu: number,
  indices: number[],
  rounds = 1,
): Actor {
  return {
    name,
    cpu,
    models: 'test: lock page-cache folios in a given order',
    declaresFootprints: pageCacheDeclaresFootprints(k),
    *body(): KernelGen {
      for (let round = 0; round < rounds; round++) {
        const held: Folio[] = [];
        for (const index of indices) {
          const folio = yield* filemapLockFolio(k, file, index, name);
          if (folio >= 0) held.push(folio);
          yield;
        }
        for (let i = held.length - 1; i >= 0; i--) yield* folioUnlockPut(k, held[i] as Folio);
      }
    },
  };
}

type Build = (k: Kernel, file: AddressSpaceView, mm: MmView, addr: number) => Actor[];

/** The file of the program last built (read by `runOnce` after the run). */
let builtFile: AddressSpaceView | null = null;
/** What test actors of the run observed (part of its outcome); cleared when a program is built. */
const observed: string[] = [];

/** A scenario on a two-node machine: a file of `pages` pages, mapped shared and read in. */
function program(name: string, pages: number, build: Build): Scenario {
  return {
    name,
    title: name,
    description: name,
    sources: [],
    config: { nodes: [{ pages: 64 }, { pages: 64 }], cpusPerNode: 2, variant: 'v6.3' },
    build(k) {
      const file = k.createFile('data', {
        content: Array.from({ length: pages }, (_, i) => 1000 + i),
      });
      const mm = k.createProcess('app');
      const addr = k.vm.mmap(mm, { length: pages * PAGE_SIZE, flags: MAP_SHARED, file });
      builtFile = file;
      return {
        *setup() {
          for (let i = 0; i < pages; i++) yield* k.vm.userRead(mm, addr + i * PAGE_SIZE);
        },
        actors: build(k, file, mm, addr),
      };
    },
  } as Scenario;
}

/** Runs the program once: its status (the sleepers of a deadlock) and the page cache's final state. */
function runOnce(p: Scenario, pages: number, strategy: Strategy, footprints: FootprintLog): string {
  const { kernel: k } = instantiateScenario(p, { strategy, footprints });
  const result = k.run();
  const file = builtFile as AddressSpaceView;
  const state: string[] = [];
  for (let i = 0; i < pages; i++) {
    const f = pageCacheLookup(k.mem, file, i);
    if (f === undefined) state.push('-');
    else
      state.push(
        `n${folioNid(k.mem, f)}:r${folioRefCount(k.mem, f)}:${folioTestFlag(k.mem, f, PG_locked) ? 'L' : 'u'}:${pageContent(k.mem, f)}`,
      );
  }
  if (result.status === 'deadlock') {
    const sleepers = k.rt.tasks
      .filter((t) => t.state === 'sleeping')
      .map((t) => `${t.name}@${t.waiting?.resource.name}`)
      .sort();
    return `deadlock ${sleepers.join(',')} ${state.join(' ')} saw[${observed.join(',')}]`;
  }
  return `${result.status} ${state.join(' ')} saw[${observed.join(',')}]`;
}

/** Follows a prefix of choices, then the default (the task that ran last, else the lowest id). */
class BoundedDfsStrategy implements Strategy {
  readonly name = 'dfs';
  readonly choices: number[] = [];
  readonly decisions: DecisionAlternatives[] = [];
  readonly #prefix: readonly number[];
  readonly #log: FootprintLog;
  #spent = 0;

  constructor(prefix: readonly number[], log: FootprintLog) {
    this.#prefix = prefix;
    this.#log = log;
  }

  choose(eligible: readonly Task[], decision: number): Task {
    const log = this.#log;
    const previous = log.length === 0 ? 0 : log.tasks[log.length - 1];
    const keep = eligible.find((t) => t.id === previous);
    const fallback = keep ?? (eligible[0] as Task);
    const order = [fallback.id, ...eligible.filter((t) => t !== fallback).map((t) => t.id)];
    this.decisions.push({ order, spentBefore: this.#spent, cost: keep === undefined ? 0 : 1 });
    const id = decision < this.#prefix.length ? this.#prefix[decision] : fallback.id;
    const chosen = eligible.find((t) => t.id === id) as Task;
    if (keep !== undefined && chosen !== keep) this.#spent++;
    this.choices.push(chosen.id);
    return chosen;
  }
}

function dfsOutcomes(p: Scenario, pages: number, bound: number) {
  const schedules = new DepthFirstSchedules(bound);
  const outcomes = new Set<string>();
  const log = new FootprintLog();
  let runs = 0;
  for (;;) {
    const prefix = schedules.next;
    if (prefix === null) break;
    log.clear();
    const strategy = new BoundedDfsStrategy(prefix, log);
    outcomes.add(runOnce(p, pages, strategy, log));
    runs++;
    schedules.advance(strategy.choices, strategy.decisions);
  }
  return { outcomes, runs };
}

function dporOutcomes(p: Scenario, pages: number, bound: number) {
  const outcomes = new Set<string>();
  const result = exploreWithDpor(
    (strategy, log) => {
      outcomes.add(runOnce(p, pages, strategy, log));
    },
    new FootprintLog(),
    { preemptionBound: bound },
  );
  return { outcomes, ...result };
}

const sorted = (s: Set<string>) => [...s].sort();

const PROGRAMS: [string, number, Build, number[]][] = [
  [
    'two tasks lock two folios in opposite orders (AB-BA on folio locks)',
    2,
    (k, file) => [locker(k, file, 'up', 0, [0, 1]), locker(k, file, 'down', 2, [1, 0])],
    [0, 1, 2],
  ],
  [
    'two tasks lock disjoint folios',
    2,
    (k, file) => [locker(k, file, 'a', 0, [0], 4), locker(k, file, 'b', 2, [1], 4)],
    [0, 1, 2],
  ],
  [
    'a range locker and a move_pages migrator on the same folios',
    2,
    (k, file, mm, addr) => [
      rangeLocker(k, { cpu: 2, file, first: 0, pages: 2, rounds: 1, holdSteps: 1 }),
      migrator(k, {
        name: 'move_pages',
        cpu: 0,
        mode: MIGRATE_SYNC,
        reason: MR_SYSCALL,
        rounds: 1,
        select: mappedFolios(k, mm, addr, 2, 'descending'),
      }),
    ],
    [0, 1],
  ],
];

describe('DPOR with kernel-model footprints finds the outcomes the unreduced DFS finds', () => {
  for (const [name, pages, build, bounds] of PROGRAMS) {
    for (const bound of bounds) {
      test(`${name}, preemption bound ${bound}`, () => {
        const p = program(name, pages, build);
        const dfs = dfsOutcomes(p, pages, bound);
        const dpor = dporOutcomes(p, pages, bound);
        expect(dpor.complete).toBe(true);
        expect(sorted(dpor.outcomes)).toEqual(sorted(dfs.outcomes));
        expect(dpor.classes).toBeLessThanOrEqual(dfs.runs);
      });
    }
  }

  test('the AB-BA deadlock on folio locks is among the outcomes', () => {
    const [name, pages, build] = PROGRAMS[0] as (typeof PROGRAMS)[0];
    const dpor = dporOutcomes(program(name, pages, build), pages, 2);
    expect([...dpor.outcomes].some((o) => o.startsWith('deadlock'))).toBe(true);
    expect([...dpor.outcomes].some((o) => o.startsWith('completed'))).toBe(true);
  });

  test('declared folio-lock steps on disjoint folios commute: fewer DPOR classes than DFS runs', () => {
    const [name, pages, build] = PROGRAMS[1] as (typeof PROGRAMS)[1];
    const p = program(name, pages, build);
    const dfs = dfsOutcomes(p, pages, 2);
    const dpor = dporOutcomes(p, pages, 2);
    expect(dpor.classes).toBeLessThan(dfs.runs);
  });
});

describe('the historic buggy variants still deadlock under dpor:2', () => {
  const cases: [ScenarioName, VariantName][] = [
    ['rfc-lock-order', 'rfc-2022'],
    ['split-lock-deadlock', 'v6.10'],
    ['loop-bh-deadlock', 'v6.3-rc1'],
    ['loop-writeback-deadlock', 'v6.3-rc1'],
  ];
  for (const [scenario, variant] of cases) {
    test(`${scenario} ${variant}`, () => {
      const target = scenarioTarget(BUILTIN_SCENARIOS[scenario](), { variant });
      const result = explore(target, {
        strategy: { kind: 'dpor', preemptionBound: 2 },
        schedules: 2000,
        shrink: false,
      });
      expect(result.found).toBe(true);
      expect(['deadlock', 'inversion']).toContain(result.kind);
    });
  }
});

/**
 * Programs around a loop device (drivers/block/loop.c, 6.3): a backing tmpfs file, the
 * device's page cache with one buffer per page, and a filesystem file on the device. The
 * outcome adds every end-of-run invariant verdict and the checker's inversion reports.
 */
interface LoopWorld {
  readonly backing: AddressSpaceView;
  readonly dev: AddressSpaceView;
  readonly file: AddressSpaceView;
}

type LoopBuild = (k: Kernel, loop: LoopDevice, w: LoopWorld) => Actor[];

/** kcompactd-style compaction (one round) of node 0 to node 1, as the loop scenarios run it. */
function compaction(k: Kernel, mode: MigrateMode, name = 'kcompactd0', rounds = 1): Actor {
  return migrator(k, {
    name,
    cpu: 0,
    mode,
    reason: MR_COMPACTION,
    rounds,
    style: 'compaction',
    select: nodeScan(k, (_round, target) => 1 - target),
  });
}

let builtLoop: LoopWorld | null = null;

function loopProgram(name: string, pages: number, build: LoopBuild, producers = 1): Scenario {
  const indices = Array.from({ length: pages }, (_, i) => i);
  return {
    name,
    title: name,
    description: name,
    sources: [],
    config: {
      nodes: [{ pages: 64 }, { pages: 64 }],
      cpusPerNode: 2,
      variant: 'v6.3',
      dependencyChecking: true,
    },
    build(k) {
      const backing = k.createFile('backing.img', { content: indices.map((i) => 2000 + i) });
      const dev = k.createFile('loop0', { content: indices.map((i) => 3000 + i) });
      const file = k.createFile('fs-file', { content: indices.map((i) => 4000 + i) });
      k.migrate.setAddressSpaceOperations(backing, SHMEM_AOPS, { canWriteback: false });
      k.migrate.setAddressSpaceOperations(dev, BLOCKDEV_AOPS);
      const loop = new LoopDevice(k, { name: 'loop0', cpu: 1, backing, dev, producers });
      const world = { backing, dev, file };
      builtLoop = world;
      return {
        *setup() {
          yield* populateFile(k, backing, indices);
          yield* populateFile(k, dev, indices, { buffersPerPage: 1 });
          yield* populateFile(k, file, indices);
        },
        actors: [loop.actor(), ...build(k, loop, world)],
      };
    },
  } as Scenario;
}

function runLoopOnce(p: Scenario, pages: number, strategy: Strategy, log: FootprintLog): string {
  const inst = instantiateScenario(p, { strategy, footprints: log });
  const k = inst.kernel;
  const result = k.run();
  const w = builtLoop as LoopWorld;
  const state: string[] = [];
  for (const as of [w.backing, w.dev, w.file]) {
    for (let i = 0; i < pages; i++) {
      const f = pageCacheLookup(k.mem, as, i);
      if (f === undefined) state.push('-');
      else {
        const bh = k.locks.folioBuffers(f);
        state.push(
          `n${folioNid(k.mem, f)}:r${folioRefCount(k.mem, f)}:${folioTestFlag(k.mem, f, PG_locked) ? 'L' : 'u'}:${pageContent(k.mem, f)}${bh === null ? '' : `:b${k.locks.bufferLocked(bh) ? 'L' : 'u'}`}`,
        );
      }
    }
  }
  const verdicts = inst.invariants
    .map((inv) => {
      const v = inv.check('end', result);
      return v === null ? null : inv.name;
    })
    .filter((v) => v !== null)
    .sort();
  const inversions = inst.inversions().length;
  let head: string = result.status;
  if (result.status === 'deadlock') {
    head += ` ${k.rt.tasks
      .filter((t) => t.state === 'sleeping')
      .map((t) => `${t.name}@${t.waiting?.resource.name}`)
      .sort()
      .join(',')}`;
  }
  return `${head} ${state.join(' ')} violations[${verdicts.join(',')}] inversions ${inversions}`;
}

/**
 * Each step of a run: its task and its footprint (every object once, with its strongest
 * access: `W` write or `R` read; `global` for a global step).
 */
interface RunSteps {
  readonly tasks: readonly number[];
  readonly footprints: readonly string[];
}

function runSteps(log: FootprintLog): RunSteps {
  const footprints: string[] = [];
  for (let k = 0; k < log.tasks.length; k++) {
    if (log.global[k] === 1) {
      footprints.push('global');
      continue;
    }
    const mode = new Map<number, string>();
    const to = log.starts[k + 1] ?? log.objects.length;
    for (let a = log.starts[k] as number; a < to; a++) {
      const o = log.objects[a] as number;
      if (log.writes[a] === 1) mode.set(o, 'W');
      else if (!mode.has(o)) mode.set(o, 'R');
    }
    footprints.push(
      [...mode]
        .sort((x, y) => x[0] - y[0])
        .map(([o, m]) => `${m}${o}`)
        .join(' '),
    );
  }
  return { tasks: [...log.tasks], footprints };
}

/** Whether two step footprints (as `runSteps` writes them) are dependent. */
function dependent(a: string, b: string): boolean {
  if (a === 'global' || b === 'global') return true;
  const modes = new Map<string, string>();
  for (const x of a.split(' ')) modes.set(x.slice(1), x[0] as string);
  for (const y of b.split(' ')) {
    const m = modes.get(y.slice(1));
    if (m !== undefined && (m === 'W' || y[0] === 'W')) return true;
  }
  return false;
}

/**
 * The commutation property the footprints owe DPOR: where two adjacent steps of different
 * tasks are independent, a run that takes them in the other order (from the same prefix)
 * gives each of them the same footprint. Returns the violations found among `runs` (each
 * pair checked where some run of the list takes the swapped order).
 */
function commutationViolations(runs: readonly RunSteps[]): string[] {
  const byPrefix = new Map<string, RunSteps>();
  for (const r of runs) {
    let key = '';
    for (const t of r.tasks) {
      key += `${t},`;
      if (!byPrefix.has(key)) byPrefix.set(key, r);
    }
  }
  const violations: string[] = [];
  for (const r of runs) {
    let before = '';
    for (let k = 0; k + 1 < r.tasks.length; k++) {
      const a = r.tasks[k] as number;
      const b = r.tasks[k + 1] as number;
      const fa = r.footprints[k] as string;
      const fb = r.footprints[k + 1] as string;
      if (a !== b && !dependent(fa, fb)) {
        const swapped = byPrefix.get(`${before}${b},${a},`);
        if (
          swapped !== undefined &&
          (swapped.footprints[k] !== fb || swapped.footprints[k + 1] !== fa)
        ) {
          violations.push(`after ${before}: ${a} then ${b} independent, swapped footprints differ`);
        }
      }
      before += `${a},`;
    }
  }
  return violations;
}

/** With `audit`, also the steps of every DFS run (`dfsRuns`, for `commutationViolations`). */
function loopOutcomes(p: Scenario, pages: number, bound: number, audit = false) {
  const schedules = new DepthFirstSchedules(bound);
  const dfs = new Set<string>();
  const log = new FootprintLog();
  let runs = 0;
  const dfsClasses = new Set<string>();
  const dfsRuns: RunSteps[] = [];
  for (;;) {
    const prefix = schedules.next;
    if (prefix === null) break;
    log.clear();
    const strategy = new BoundedDfsStrategy(prefix, log);
    dfs.add(runLoopOnce(p, pages, strategy, log));
    log.end();
    dfsClasses.add(log.classKey());
    if (audit) dfsRuns.push(runSteps(log));
    runs++;
    schedules.advance(strategy.choices, strategy.decisions);
  }
  const dpor = new Set<string>();
  // The classes of the runs DPOR completes (not abandoned at a decision): each is within the
  // bound, so a sound search meets exactly the classes DFS meets.
  const dporClasses = new Set<string>();
  const result = exploreWithDpor(
    (strategy, l) => {
      dpor.add(runLoopOnce(p, pages, strategy, l));
      l.end();
      dporClasses.add(l.classKey());
    },
    new FootprintLog(),
    { preemptionBound: bound },
  );
  return { dfs, runs, dpor, dfsClasses, dporClasses, dfsRuns, ...result };
}

const LOOP_PROGRAMS: [string, number, LoopBuild, number[], number?][] = [
  [
    'a jbd2-like buffer writer and the loop worker (buffer locks handed to the worker)',
    2,
    (k, loop) => [bufferWriter(k, { cpu: 2, loop, indices: [0, 1], rounds: 1 })],
    [0, 1, 2],
  ],
  [
    'two buffer writers storing into the same buffer, and the loop worker',
    1,
    (k, loop) => [
      bufferWriter(k, { name: 'jbd2/a', cpu: 2, loop, indices: [0], rounds: 1 }),
      bufferWriter(k, { name: 'jbd2/b', cpu: 3, loop, indices: [0], rounds: 1 }),
    ],
    [0, 1, 2],
    2,
  ],
  [
    'write(2), write_cache_pages to the loop device, and the loop worker',
    1,
    (k, loop, w) => [
      fileIoTask(k, {
        name: 'writer',
        cpu: 3,
        file: w.file,
        pages: 1,
        pattern: 'sequential',
        accesses: 2,
        writeRatio: 1,
      }),
      writebackWorker(k, { cpu: 2, file: w.file, indices: [0], rounds: 2, target: loop }),
    ],
    [0, 1, 2],
  ],
  [
    'a buffer writer, the loop worker, and compaction of their folios (declared)',
    1,
    (k, loop) => [
      bufferWriter(k, { cpu: 2, loop, indices: [0], rounds: 1 }),
      compaction(k, MIGRATE_SYNC_LIGHT),
    ],
    [0, 1, 2],
  ],
  [
    'a page-cache locker of a filesystem folio and compact_memory (MIGRATE_SYNC) of its node',
    1,
    (k, _loop, w) => [
      locker(k, w.file, 'locker', 2, [0], 2),
      compaction(k, MIGRATE_SYNC, 'compact_memory'),
    ],
    [0, 1, 2],
  ],
  [
    'write(2), write_cache_pages, the loop worker and compact_memory (MIGRATE_SYNC)',
    1,
    (k, loop, w) => [
      fileIoTask(k, {
        name: 'writer',
        cpu: 3,
        file: w.file,
        pages: 1,
        pattern: 'sequential',
        accesses: 1,
        writeRatio: 1,
      }),
      writebackWorker(k, { cpu: 2, file: w.file, indices: [0], rounds: 1, target: loop }),
      compaction(k, MIGRATE_SYNC, 'compact_memory'),
    ],
    [0, 1],
  ],
];

describe('DPOR with the loop-device actors footprints finds the outcomes the unreduced DFS finds', () => {
  for (const [name, pages, build, bounds, producers] of LOOP_PROGRAMS) {
    for (const bound of bounds) {
      test(`${name}, preemption bound ${bound}`, () => {
        const r = loopOutcomes(loopProgram(name, pages, build, producers), pages, bound);
        expect(r.complete).toBe(true);
        expect(sorted(r.dpor)).toEqual(sorted(r.dfs));
        expect(r.classes).toBeLessThanOrEqual(r.runs);
        // DPOR meets exactly the interleaving classes DFS meets within the bound.
        expect(sorted(r.dporClasses)).toEqual(sorted(r.dfsClasses));
        expect(r.classes).toBe(r.dfsClasses.size);
        // Bound 2 runs a few thousand schedules of each search: on a loaded machine that can
        // take a minute (the limit catches a hung test, not a slow one).
      }, 120_000);
    }
  }

  test('a page-cache locker and compact_memory: independent adjacent steps keep their footprints in the other order (bound 2)', () => {
    // What DPOR's races and sleep sets assume of the footprints. The compaction task's
    // migrate-phase record once chose the list folios by PG_locked without recording the
    // read: a locker's step found independent of a compaction step changed that step's
    // footprint when it ran first, and dpor:2 met 67 of the 70 classes dfs:2 meets.
    const [name, pages, build, , producers] = LOOP_PROGRAMS[4] as (typeof LOOP_PROGRAMS)[4];
    const r = loopOutcomes(loopProgram(name, pages, build, producers), pages, 2, true);
    expect(r.dfsRuns).toHaveLength(r.runs);
    expect(commutationViolations(r.dfsRuns)).toEqual([]);
  });

  test('the loop worker, the buffer writer, the writeback worker and the writer declare their footprints: fewer DPOR classes than DFS runs', () => {
    for (const [name, pages, build, , producers] of LOOP_PROGRAMS.slice(0, 3)) {
      const r = loopOutcomes(loopProgram(name, pages, build, producers), pages, 2);
      expect(r.classes).toBeLessThan(r.runs);
    }
  });
});

describe('the kernel functions the loop-device actors call record their footprints', () => {
  /**
   * One task calls each function in a step of its own and notes the step's index; the
   * step's footprint must hold what the function touched (a folio write, a folio read, the
   * work list).
   */
  test('buffer locks and references, PG_writeback, PG_dirty, page-cache words and the work list', () => {
    const marks = new Map<string, number>();
    let folio = -1;
    const log = new FootprintLog();
    const p = program('probe', 1, (k, file) => [
      {
        name: 'probe',
        cpu: 0,
        models: 'test: one function per step',
        *body(): KernelGen {
          const rt = k.rt;
          const mark = (what: string) => marks.set(what, log.length - 1);
          folio = yield* filemapLockFolio(k, file, 0, 'probe');
          const bh = k.locks.createBuffers(folio, 1);
          yield;
          mark('setPageCacheWord');
          setPageCacheWord(k, folio, 0, 7);
          yield;
          mark('pageCacheWord');
          pageCacheWord(k, folio, 0);
          yield;
          mark('folioMarkDirty');
          folioMarkDirty(k, folio);
          yield;
          mark('folioClearDirtyForIo');
          folioClearDirtyForIo(k, folio);
          yield;
          mark('folioStartWriteback');
          k.locks.folioStartWriteback(folio);
          yield;
          mark('folioEndWriteback');
          k.locks.folioEndWriteback(folio);
          yield;
          mark('folioBuffers');
          k.locks.folioBuffers(folio);
          yield;
          mark('getBh');
          k.locks.getBh(bh);
          yield;
          mark('putBh');
          k.locks.putBh(bh);
          yield;
          mark('lockBufferFast');
          k.locks.lockBufferFast(bh);
          yield;
          mark('unlockBuffer');
          k.locks.unlockBuffer(bh);
          yield;
          mark('trylockBuffer');
          k.locks.trylockBuffer(bh);
          yield;
          k.locks.unlockBuffer(bh);
          yield* folioUnlockPut(k, folio);
          const queue = new WorkQueue<number>(rt, 'probe list', 2);
          yield;
          mark('WorkQueue.close');
          queue.close(); // 2 -> 1 producers: no completion is signalled
          yield;
        },
      },
    ]);
    const { kernel } = instantiateScenario(p, { footprints: log });
    expect(kernel.run().status).toBe('completed');
    const touched = (what: string, id: number, write: boolean) => {
      const f = log.footprintOf(marks.get(what) as number);
      return f.objects.some((o, i) => o === id && (f.writes[i] === 1) === write);
    };
    const folioId = kernelObjectId(FP_FOLIO, folio);
    for (const what of [
      'setPageCacheWord',
      'folioMarkDirty',
      'folioClearDirtyForIo',
      'folioStartWriteback',
      'folioEndWriteback',
      'getBh',
      'putBh',
      'lockBufferFast',
      'unlockBuffer',
      'trylockBuffer',
    ]) {
      expect(touched(what, folioId, true), `${what} writes the folio`).toBe(true);
    }
    expect(touched('pageCacheWord', folioId, false), 'pageCacheWord reads the folio').toBe(true);
    expect(touched('folioBuffers', folioId, false), 'folioBuffers reads the folio').toBe(true);
    const close = log.footprintOf(marks.get('WorkQueue.close') as number);
    expect(close.objects.some((o) => o >= FIRST_OBJECT_ID)).toBe(true);
  });
});

describe('the kernel functions compaction calls record their footprints', () => {
  test('the migrate scanner, the isolation (folio_try_get, folio_isolate_lru, NR_ISOLATED) and folio_putback_lru', () => {
    const marks = new Map<string, number>();
    let folio = -1;
    let item = -1;
    const log = new FootprintLog();
    const p = program('probe', 1, (k, file) => [
      {
        name: 'probe',
        cpu: 0,
        models: 'test: one function per step',
        *body(): KernelGen {
          const mark = (what: string) => marks.set(what, log.length - 1);
          yield* k.lru.lruAddDrain();
          folio = pageCacheLookup(k.mem, file, 0) as Folio;
          yield;
          mark('nodeScan');
          for (const f of nodeScan(k, 0)(0, 1)) if (f === folio) break;
          yield;
          const list = new FolioList(k.mem);
          mark('isolateForMigration');
          const isolated = yield* isolateForMigration(k, folio, list, MIGRATE_SYNC);
          mark('isolateForMigration end');
          expect(isolated).toBe(true);
          item = k.lru.folioIsolatedItem(folio);
          list.del(folio);
          k.lru.nodeStatModFolio(folio, item, -1);
          yield;
          mark('folioPutbackLru');
          yield* k.lru.folioPutbackLru(folio);
          yield;
        },
      },
    ]);
    const { kernel } = instantiateScenario(p, { footprints: log });
    expect(kernel.run().status).toBe('completed');
    const touched = (what: string, id: number, write: boolean) => {
      const f = log.footprintOf(marks.get(what) as number);
      return f.objects.some((o, i) => o === id && (f.writes[i] === 1) === write);
    };
    const folioId = kernelObjectId(FP_FOLIO, folio);
    const nid = folioNid(kernel.mem, folio);
    expect(touched('nodeScan', folioId, false), 'nodeScan reads the folio').toBe(true);
    expect(touched('nodeScan', kernelObjectId(FP_ZONE, 0), false), 'nodeScan reads the zone').toBe(
      true,
    );
    expect(touched('isolateForMigration', folioId, true), 'folio_try_get writes the folio').toBe(
      true,
    );
    const end = 'isolateForMigration end';
    expect(touched(end, folioId, true), 'folio_isolate_lru writes the folio').toBe(true);
    expect(touched(end, kernelObjectId(FP_LRU_LIST, nid), true), 'and its lruvec').toBe(true);
    expect(touched(end, kernelObjectId(FP_VMSTAT, item), true), 'NR_ISOLATED is written').toBe(
      true,
    );
    expect(touched('folioPutbackLru', folioId, true), 'folio_putback_lru writes the folio').toBe(
      true,
    );
    expect(touched('folioPutbackLru', kernelObjectId(FP_PCP, 0), true), 'and the batch').toBe(true);
  });
});

describe('compaction (kcompactd, compact_memory) declares its footprints', () => {
  /** Runs `p` once in the default schedule and counts the global steps of task `name`. */
  function globalSteps(p: Scenario, name: string, variant?: VariantName) {
    const log = new FootprintLog();
    const strategy = new BoundedDfsStrategy([], log);
    const { kernel } = instantiateScenario(p, {
      strategy,
      footprints: log,
      ...(variant === undefined ? {} : { variant }),
    });
    kernel.run();
    const id = kernel.rt.tasks.find((t) => t.name === name)?.id;
    let steps = 0;
    let global = 0;
    for (let i = 0; i < log.length; i++) {
      if (log.tasks[i] !== id) continue;
      steps++;
      global += log.global[i] as number;
    }
    return { steps, global };
  }

  test('the compaction task of loop-bh-deadlock and loop-writeback-deadlock (v6.3) has no global step in the default run', () => {
    for (const [scenario, task] of [
      ['loop-bh-deadlock', 'kcompactd0'],
      ['loop-writeback-deadlock', 'compact_memory'],
    ] as const) {
      const r = globalSteps(BUILTIN_SCENARIOS[scenario](), task, 'v6.3');
      expect(r.steps, scenario).toBeGreaterThan(10);
      expect(r.global, scenario).toBe(0);
    }
  });

  test('compaction of a mapped file stays global in migrate_pages() (page tables are not recorded)', () => {
    const p = program('compaction of a mapped file', 2, (k) => [compaction(k, MIGRATE_SYNC_LIGHT)]);
    const r = globalSteps(p, 'kcompactd0');
    expect(r.global).toBeGreaterThan(0);
    expect(r.global).toBeLessThan(r.steps);
  });

  /** Files `a` (node 0, compacted to node 1) and `b` (node 1), neither mapped. */
  function twoNodeProgram(
    name: string,
    build: (k: Kernel, a: AddressSpaceView, b: AddressSpaceView) => Actor[],
  ): Scenario {
    return {
      name,
      title: name,
      description: name,
      sources: [],
      config: { nodes: [{ pages: 64 }, { pages: 64 }], cpusPerNode: 2, variant: 'v6.3' },
      build(k) {
        const a = k.createFile('a', { content: [1000, 1001] });
        const b = k.createFile('b', { content: [2000] });
        builtFile = b;
        observed.length = 0;
        return {
          *setup() {
            yield* populateFile(k, a, [0, 1]);
            yield* populateFile(k, b, [0], { nid: 1 });
          },
          actors: build(k, a, b),
        };
      },
    } as Scenario;
  }

  const DISJOINT = (k: Kernel, _a: AddressSpaceView, b: AddressSpaceView) => [
    locker(k, b, 'locker', 2, [0], 2),
    compaction(k, MIGRATE_SYNC_LIGHT),
  ];
  const SHARED = (k: Kernel, a: AddressSpaceView) => [
    locker(k, a, 'locker', 2, [1, 0], 1),
    compaction(k, MIGRATE_SYNC_LIGHT),
  ];

  /**
   * A declared task that looks `a`'s page cache up without taking a reference (an
   * RCU-style read: it records FP_MAPPING only) and notes the node of what it found: which
   * node it sees depends on the order of its steps and compaction's page-cache replacement.
   */
  const PEEK = (k: Kernel, a: AddressSpaceView) => [
    {
      name: 'peek',
      cpu: 2,
      models: 'test: page-cache reads without a reference',
      declaresFootprints: true,
      *body(): KernelGen {
        for (let i = 0; i < 3; i++) {
          k.rt.touchKernel(FP_MAPPING, a.id, false);
          const f = pageCacheLookup(k.mem, a, 0);
          observed.push(f === undefined ? '-' : `n${folioNid(k.mem, f)}`);
          yield;
        }
      },
    } satisfies Actor,
    compaction(k, MIGRATE_SYNC_LIGHT),
  ];

  for (const [name, build] of [
    ['a page-cache locker on node 1 and compaction of node 0 (disjoint folios)', DISJOINT],
    ['a page-cache locker and compaction of the same folios', SHARED],
    ['a page-cache reader without references and compaction of its folio', PEEK],
  ] as const) {
    const bounds = build === PEEK ? [0, 1, 2, Number.POSITIVE_INFINITY] : [0, 1, 2];
    for (const bound of bounds) {
      test(`${name}: DPOR finds the outcomes of DFS, preemption bound ${bound}`, () => {
        const p = twoNodeProgram(name, build);
        const dfs = dfsOutcomes(p, 1, bound);
        const dpor = dporOutcomes(p, 1, bound);
        expect(dpor.complete).toBe(true);
        expect(sorted(dpor.outcomes)).toEqual(sorted(dfs.outcomes));
        expect(dpor.classes).toBeLessThanOrEqual(dfs.runs);
      });
    }
  }

  test('compaction steps commute with a locker of other folios: fewer DPOR classes than DFS runs', () => {
    const p = twoNodeProgram('disjoint', DISJOINT);
    const dfs = dfsOutcomes(p, 1, 2);
    const dpor = dporOutcomes(p, 1, 2);
    expect(dpor.classes).toBeLessThan(dfs.runs);
  });
});

describe('what compaction changes, its steps record', () => {
  /**
   * After each step of the run (`onStep`), compares the machine with what it was before
   * that step: every frame whose state, flags, refcount or mapcount changed, and every
   * page-cache slot that changed, must be recorded by the step (a write of the folio, of
   * the zone for a frame freed or allocated, of the mapping for a slot), unless the step
   * is global. Checked for the steps of the compaction task.
   */
  class Auditor {
    readonly misses: string[] = [];
    readonly #k: Kernel;
    readonly #log: FootprintLog;
    readonly #files: AddressSpaceView[];
    #before: Int32Array[];
    #slots = '';

    constructor(k: Kernel, log: FootprintLog, files: AddressSpaceView[]) {
      this.#k = k;
      this.#log = log;
      this.#files = files;
      this.#before = this.#snapshot();
    }

    #snapshot(): Int32Array[] {
      const f = frameView(this.#k.mem);
      this.#slots = this.#files
        .map((as) => [...as.pages].map(([i, folio]) => `${i}:${folio}`).join(' '))
        .join('|');
      return [
        Int32Array.from(f.state),
        Int32Array.from(f.flags),
        Int32Array.from(f.refcount),
        Int32Array.from(f.mapcount),
      ];
    }

    afterStep(task: Task): void {
      const k = this.#k;
      const log = this.#log;
      const step = log.length - 1;
      const slotsBefore = this.#slots;
      const [state, flags, refcount, mapcount] = this.#before as [
        Int32Array,
        Int32Array,
        Int32Array,
        Int32Array,
      ];
      const after = this.#snapshot() as [Int32Array, Int32Array, Int32Array, Int32Array];
      this.#before = after;
      if (task.name !== 'kcompactd0' && task.name !== 'compact_memory') return;
      const fp = log.footprintOf(step);
      if (fp.global) return;
      const writes = (id: number) => fp.objects.some((o, i) => o === id && fp.writes[i] === 1);
      const f = frameView(k.mem);
      for (let pfn = 0; pfn < f.maxPfn; pfn++) {
        const stateChanged = state[pfn] !== after[0][pfn];
        if (
          !stateChanged &&
          flags[pfn] === after[1][pfn] &&
          refcount[pfn] === after[2][pfn] &&
          mapcount[pfn] === after[3][pfn]
        ) {
          continue;
        }
        const ok =
          writes(kernelObjectId(FP_FOLIO, pfn)) ||
          (stateChanged && writes(kernelObjectId(FP_ZONE, f.nid[pfn] as number)));
        if (!ok) this.misses.push(`${task.name} step ${step}: frame ${pfn} changed unrecorded`);
      }
      if (slotsBefore !== this.#slots) {
        const ok = this.#files.some((as) => writes(kernelObjectId(FP_MAPPING, as.id)));
        if (!ok)
          this.misses.push(`${task.name} step ${step}: a page-cache slot changed unrecorded`);
      }
    }
  }

  for (const [name, pages, build] of LOOP_PROGRAMS.slice(3)) {
    test(`${name}: every frame and page-cache slot compaction changes is in its step's footprint (all schedules, bound 1)`, () => {
      const p = loopProgram(name, pages, build);
      const schedules = new DepthFirstSchedules(1);
      const log = new FootprintLog();
      const misses = new Set<string>();
      let runs = 0;
      for (;;) {
        const prefix = schedules.next;
        if (prefix === null) break;
        log.clear();
        const strategy = new BoundedDfsStrategy(prefix, log);
        let auditor: Auditor | null = null;
        const inst = instantiateScenario(p, {
          strategy,
          footprints: log,
          onStep: (task) => auditor?.afterStep(task),
        });
        const w = builtLoop as LoopWorld;
        auditor = new Auditor(inst.kernel, log, [w.backing, w.dev, w.file]);
        inst.kernel.run();
        for (const m of auditor.misses) misses.add(m);
        runs++;
        schedules.advance(strategy.choices, strategy.decisions);
      }
      expect(runs).toBeGreaterThan(10);
      expect([...misses]).toEqual([]);
    });
  }
});
