import { setPageContent } from '@mmsim/folio';
import { type Actor, type Kernel, touchPages } from '@mmsim/kernel';
import { MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import { MAP_ANONYMOUS, MAP_SHARED, type MmView, PAGE_SIZE } from '@mmsim/rmap';
import type { KernelGen, Task } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { pagePicker } from '../src/actors/access-pattern.js';
import {
  directIoTask,
  mappedFolios,
  migrator,
  migratorStats,
  runScenario,
  type Scenario,
} from '../src/index.js';

/**
 * The O_DIRECT reader as it recorded its DMA before (`wrote(userLocation(mm, at))`, the
 * writer resolved by name at each record): the oracle of `directIoTask`'s record through
 * `wroteUserAccess`.
 */
function referenceDirectIo(
  k: Kernel,
  o: { cpu: number; mm: MmView; addr: number; pages: number; reads: number },
): Actor {
  return {
    name: 'dio',
    cpu: o.cpu,
    models: 'the reference O_DIRECT reader',
    *body(task: Task): KernelGen {
      const pick = pagePicker('random', o.pages, k.rt.random.workload);
      const who = String(task);
      for (let n = 0; n < o.reads; n++) {
        const at = o.addr + pick(n) * PAGE_SIZE;
        const pfn = yield* k.vm.pinUserPage(o.mm, at, true);
        if (pfn < 0) return;
        for (let i = 0; i < 2; i++) yield;
        const value = task.id * 1_000_000 + n + 1;
        setPageContent(k.mem, pfn, value);
        k.shadow.wrote(k.shadow.userLocation(o.mm, at), value, who);
        yield* k.vm.unpinUserPage(o.mm, pfn);
        yield;
      }
    },
  };
}

interface Outcome {
  readonly token: string;
  readonly size: number;
  /** `verifyAll` at the end: nothing lost. */
  readonly clean: readonly string[];
  /** `verifyAll` after the word of every page of both areas was overwritten. */
  readonly lost: readonly string[];
}

/**
 * Two O_DIRECT readers (one into private anonymous pages, one into shmem, whose words live
 * in its file) while move_pages moves both areas back and forth: the readers are
 * `directIoTask`s or the reference above.
 */
function run(reference: boolean, seed: number): Outcome {
  const pages = 6;
  let outcome: () => Omit<Outcome, 'token'> = () => ({ size: 0, clean: [], lost: [] });
  const scenario: Scenario = {
    name: 'direct-io-shadow',
    title: 'O_DIRECT readers under migration',
    description: 'a test scenario',
    sources: [],
    config: {
      nodes: [
        { pages: 512, cpus: 2 },
        { pages: 512, cpus: 2 },
      ],
      strategy: 'random',
      seed,
    },
    build(k) {
      const mm = k.createProcess('p');
      const anon = k.vm.mmap(mm, { length: pages * PAGE_SIZE });
      const shm = k.vm.mmap(mm, { length: pages * PAGE_SIZE, flags: MAP_SHARED | MAP_ANONYMOUS });
      const dio = (cpu: number, addr: number): Actor =>
        reference
          ? referenceDirectIo(k, { cpu, mm, addr, pages, reads: 8 })
          : directIoTask(k, { cpu, mm, addr, pages, reads: 8 });
      outcome = () => {
        const clean = k.shadow.verifyAll();
        const size = k.shadow.size;
        for (const area of [anon, shm]) {
          for (let i = 0; i < pages; i++) {
            setPageContent(k.mem, k.vm.followPage(mm, area + i * PAGE_SIZE), -1 - i);
          }
        }
        return { size, clean, lost: k.shadow.verifyAll() };
      };
      return {
        *setup() {
          yield* touchPages(k, mm, anon, pages, (i) => 10 + i);
          yield* touchPages(k, mm, shm, pages, (i) => 20 + i);
        },
        actors: [
          dio(1, anon),
          dio(2, shm),
          migrator(k, {
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: 3,
            select: mappedFolios(k, mm, anon, pages),
            stats: migratorStats(),
          }),
          migrator(k, {
            cpu: 3,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: 3,
            select: mappedFolios(k, mm, shm, pages),
            stats: migratorStats(),
          }),
        ],
      };
    },
  };
  const r = runScenario(scenario, { checkSteps: false });
  expect(r.error).toBeNull();
  expect(r.result?.status).toBe('completed');
  return { token: r.result?.replayToken ?? '', ...outcome() };
}

describe('directIoTask records its DMA in the shadow memory', () => {
  it('as wrote(userLocation(...)) did: the same places, and every lost word reported', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const fast = run(false, seed);
      const ref = run(true, seed);
      expect(fast).toEqual(ref);
      expect(fast.clean).toEqual([]);
      // the set-up's 12 words and nothing else: the DMA rewrites those places
      expect(fast.size).toBe(12);
      // every place reported lost, the DMA'd ones naming the reader, the shmem ones by file
      expect(fast.lost).toHaveLength(12);
      expect(fast.lost.some((m) => /\(by dio\b/.test(m) && /^p#\d+ 0x/.test(m))).toBe(true);
      expect(fast.lost.some((m) => /\(by dio\b/.test(m) && /\[\d+\] holds/.test(m))).toBe(true);
    }
  });
});
