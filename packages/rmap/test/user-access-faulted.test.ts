import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../src/index.js';
import { createRmapMachine as machine } from '../src/testing/index.js';
import { spawnAccessorsAndMigrator } from './helpers.js';

type Access = 'generator' | 'fast-then-faulted';

/**
 * Two threads of a process load and store over 6 pages (first touches, zero-page reads
 * then COW, TLB hits, stores through clean entries) while a third task migrates them,
 * so that some accesses wait on migration entries; every access through `how`.
 */
function run(how: Access, seed: number) {
  const m = machine({ strategy: 'random', seed, lru: true });
  const { vm, rt } = m;
  const p = vm.createProcess();
  const pages = 6;
  const addr = vm.mmap(p, { length: pages * PAGE_SIZE });
  const seen: number[] = [];
  function* load(at: number): KernelGen<number> {
    if (how === 'generator') return yield* vm.userRead(p, at);
    const v = vm.userReadFast(p, at);
    return Number.isNaN(v) ? yield* vm.userReadFaulted(p, at) : v;
  }
  function* store(at: number, value: number): KernelGen {
    if (how === 'generator') yield* vm.userWrite(p, at, value);
    else if (!vm.userWriteFast(p, at, value)) yield* vm.userWriteFaulted(p, at, value);
  }
  spawnAccessorsAndMigrator(m, p, addr, pages, 40, load, store, seen);
  const result = rt.run();
  const s = vm.tlbStats;
  return {
    status: result.status,
    steps: result.steps,
    token: result.replayToken,
    clocks: rt.cpus.map((c) => c.clock),
    tlb: [s.tlbHits, s.tlbMisses, s.shootdowns, s.ipisSent, s.localFlushOne],
    seen,
  };
}

describe('userReadFast / userWriteFast, then userReadFaulted / userWriteFaulted on a fault', () => {
  it('give what userRead / userWrite give: the same values, charges, TLB counts and schedule', () => {
    let faulted = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const general = run('generator', seed);
      const split = run('fast-then-faulted', seed);
      expect(general.status).toBe('completed');
      expect(split).toEqual(general);
      faulted += general.tlb[1]!;
    }
    expect(faulted).toBeGreaterThan(0);
  });
});
