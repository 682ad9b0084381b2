import { assertPhysicalMemory, type Folio, folioTestFlag, PG_locked } from '@mmsim/folio';
import { Completion, type KernelGen, type StrategySpec } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { MAP_SHARED, type MmView, PMD_SIZE, TTU_BATCH_FLUSH } from '../src/index.js';
import { freePages, createRmapMachine as machine } from '../src/testing/index.js';
import { migrateFolio } from './helpers.js';

const PAGES = 6;

/**
 * A small fork tree where every process writes and reads back its own view of private
 * anonymous memory (COW keeps the views apart), all of them write a shared file, while a
 * migrator keeps migrating whatever page it finds, batched or not, and one process exits
 * mid-way. Every read must return that process's last write; at the end every page is
 * freed and the models are consistent.
 */
function stress(strategy: StrategySpec, seed: number): void {
  const m = machine({ strategy, seed, cpuNodes: [0, 1, 0, 1] });
  const { vm, rt, mem } = m;
  const root = vm.createProcess('root');
  const file = vm.createFile('shared');
  const anon = vm.mmap(root, { length: PAGES * 4096 });
  const thp = vm.mmap(root, { length: PMD_SIZE, hugepage: true });
  const shared = vm.mmap(root, { length: 2 * 4096, flags: MAP_SHARED, file });
  const before = freePages(mem);
  const procs: MmView[] = [root];
  const views = new Map<MmView, Map<number, number>>();
  const forked = new Completion(rt, 'forked');
  let writersDone = 0;

  rt.spawn('setup', 0, function* (): KernelGen {
    const view = new Map<number, number>();
    for (let i = 0; i < PAGES; i++) {
      yield* vm.userWrite(root, anon + i * 4096, i);
      view.set(anon + i * 4096, i);
    }
    yield* vm.userWrite(root, thp + 4096, 77);
    view.set(thp + 4096, 77);
    views.set(root, view);
    for (let k = 0; k < 3; k++) {
      const parent = procs[k >> 1]!;
      const child = yield* vm.fork(parent, `c${k}`);
      procs.push(child);
      views.set(child, new Map(views.get(parent)!));
    }
    forked.completeAll();
  });

  for (let w = 0; w < 4; w++) {
    rt.spawn(`writer${w}`, w, function* (): KernelGen {
      yield* forked.wait();
      const p = procs[w]!;
      const view = views.get(p)!;
      const rng = rt.random.workload;
      for (let step = 0; step < 8; step++) {
        const target = rng.chance(0.2)
          ? thp + rng.int(0, 3) * 4096
          : anon + rng.int(0, PAGES - 1) * 4096;
        if (rng.chance(0.5)) {
          const value = w * 1000 + step;
          yield* vm.userWrite(p, target, value);
          view.set(target, value);
        } else {
          expect(yield* vm.userRead(p, target), `${p} 0x${target.toString(16)}`).toBe(
            view.get(target) ?? 0,
          );
        }
        yield* vm.userWrite(p, shared + (w % 2) * 4096, w);
        yield;
      }
      for (const [addr, value] of view) expect(yield* vm.userRead(p, addr)).toBe(value);
      writersDone++;
      if (w === 3) yield* vm.exit(p); // one process goes away while migrations go on
    });
  }

  rt.spawn('migrator', 2, function* (): KernelGen {
    yield* forked.wait();
    const rng = rt.random.workload;
    for (let k = 0; k < 10; k++) {
      const live = procs.filter((p) => p.alive && p.vmas.length === 3); // not mid-exit
      if (live.length === 0) break;
      const p = live[rng.int(0, live.length - 1)]!;
      const addrs = [anon + rng.int(0, PAGES - 1) * 4096, thp, shared + rng.int(0, 1) * 4096];
      const addr = addrs[rng.int(0, addrs.length - 1)]!;
      const view = vm.lookupPte(p, addr);
      if (view.kind !== 'present' || view.pfn === mem.zeroPfn) {
        yield;
        continue;
      }
      const folio: Folio = view.level === 'pmd' ? view.pfn - (view.pfn % 512) : view.pfn;
      if (folioTestFlag(mem, folio, PG_locked)) {
        yield;
        continue;
      }
      yield* migrateFolio(m, folio, { flags: rng.chance(0.5) ? TTU_BATCH_FLUSH : 0 });
    }
  });

  rt.spawn('reaper', 3, function* (): KernelGen {
    yield* forked.wait();
    while (writersDone < 4) yield* rt.sleepFor(10_000);
    for (const p of procs) if (p.alive) yield* vm.exit(p);
    yield* vm.truncate(file);
  });

  const result = rt.run();
  expect(result.status, `seed ${seed}`).toBe('completed');
  expect(vm.check({ quiescent: true }), `seed ${seed}`).toEqual([]);
  assertPhysicalMemory(mem);
  expect(freePages(mem), `seed ${seed}`).toEqual(before);
  expect(vm.liveAnonVmas).toBe(0);
}

describe('stress: fork tree, COW, exits and migrations under explored schedules', () => {
  it('random schedules', () => {
    for (let seed = 1; seed <= 60; seed++) stress('random', seed);
  });

  it('PCT schedules', () => {
    for (let seed = 1; seed <= 60; seed++) stress({ kind: 'pct', depth: 3, steps: 400 }, seed);
  });
});
