import type { KernelGen } from '@mmsim/runtime';
import { afterEach, describe, expect, it } from 'vitest';
import { PAGE_SIZE } from '../src/index.js';
import { mutableMm, type PageTable, pmdIndexOf, userFaultPlainPath } from '../src/internal.js';
import { createRmapMachine as machine } from '../src/testing/index.js';
import { type AccessHow, spawnAccessorsAndMigrator, userAccessors } from './helpers.js';

const PAGES = 6;
const LRU_LISTS = 5;

/**
 * Two threads of a process load and store over PAGES pages (first touches, zero-page
 * reads then COW, TLB hits) while a migrator moves what is mapped (so accesses wait on
 * migration entries) and a fourth task keeps taking the area's PTE lock (node 0's
 * `lru_lock` before the page table exists) and holding it across scheduling points (so
 * first touches find the PTE lock held and migration-entry waits spin for it). The LRU
 * batch never fills here (the test migrator does not isolate from the LRU): LRU
 * contention is tested with the kernel's migrator in packages/scenarios.
 * Every access goes through `how`: the generators (`userRead` / `userWrite` with the plain
 * fault path off, as before the plain calls) or `userReadPlain` / `userWritePlain`, whose
 * generator, when one is returned, runs at once.
 */
function run(how: AccessHow, seed: number) {
  userFaultPlainPath.enabled = how === 'plain';
  const m = machine({ strategy: 'random', seed, lru: true });
  const { vm, rt } = m;
  const lru = m.lru!;
  const p = vm.createProcess();
  const addr = vm.mmap(p, { length: PAGES * PAGE_SIZE });
  const seen: number[] = [];
  const { counts, load, store } = userAccessors(vm, p, how);
  spawnAccessorsAndMigrator(m, p, addr, PAGES, 60, load, store, seen);
  rt.spawn('holder', 3, function* (): KernelGen {
    for (let n = 0; n < 80; n++) {
      const table = mutableMm(p).pageTables.get(pmdIndexOf(addr)) as PageTable | undefined;
      const lock = table === undefined ? lru.lruLock(0) : table.ptl;
      yield* lock.lock();
      yield;
      yield;
      lock.unlock();
    }
  });
  const result = rt.run();
  const s = vm.tlbStats;
  return {
    outcome: {
      status: result.status,
      steps: result.steps,
      token: result.replayToken,
      clocks: rt.cpus.map((c) => c.clock),
      tlb: [s.tlbHits, s.tlbMisses, s.shootdowns, s.ipisSent, s.localFlushOne],
      seen,
      vmstat: m.vmstat.entries(),
      pages: Array.from({ length: PAGES }, (_, i) => vm.presentPfnAt(p, addr + i * PAGE_SIZE)),
      lists: [0, 1].map((nid) =>
        Array.from({ length: LRU_LISTS }, (_, l) => lru.view.listFolios(nid, l)),
      ),
      batches: rt.cpus.map((c) => lru.view.batchFolios(c.id)),
      problems: [...vm.check(), ...lru.view.check()],
    },
    counts,
  };
}

/** First touches of `pages` pages on a machine whose two nodes have `nodePages` each. */
function exhaust(how: AccessHow, nodePages: number, pages: number) {
  userFaultPlainPath.enabled = how === 'plain';
  const m = machine({ nodes: [nodePages, nodePages], cpuNodes: [0, 1], lru: true });
  const { vm, rt } = m;
  const p = vm.createProcess();
  const addr = vm.mmap(p, { length: pages * PAGE_SIZE });
  let error: string | null = null;
  let touched = 0;
  rt.spawn('toucher', 0, function* (): KernelGen {
    try {
      for (let i = 0; i < pages; i++) {
        const at = addr + i * PAGE_SIZE;
        if (how === 'generator') yield* vm.userWrite(p, at, i + 1);
        else {
          const rest = vm.userWritePlain(p, at, i + 1);
          if (rest !== null) yield* rest;
        }
        touched++;
      }
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
  });
  const result = rt.run();
  return {
    status: result.status,
    steps: result.steps,
    clocks: rt.cpus.map((c) => c.clock),
    error,
    touched,
    vmstat: m.vmstat.entries(),
    batch: m.lru!.view.batchFolios(0),
    problems: vm.check(),
  };
}

describe('userReadPlain / userWritePlain (plain calls while no fault waits)', () => {
  afterEach(() => {
    userFaultPlainPath.enabled = true;
  });

  it('give the generators’ values, steps, clocks, TLB counts, vmstat and LRU, with the PTE lock contended', () => {
    const counts = { plain: 0, generator: 0 };
    for (let seed = 1; seed <= 8; seed++) {
      const general = run('generator', seed);
      const plain = run('plain', seed);
      expect(general.outcome.status, `seed ${seed}`).toBe('completed');
      expect(general.outcome.problems).toEqual([]);
      expect(plain.outcome, `seed ${seed}`).toEqual(general.outcome);
      counts.plain += plain.counts.plain;
      counts.generator += plain.counts.generator;
    }
    // Both halves ran: accesses done as plain calls (first touches included) and accesses
    // whose fault had to wait (a held PTE lock, a migration entry).
    expect(counts.plain).toBeGreaterThan(0);
    expect(counts.generator).toBeGreaterThan(0);
  });

  it('fail as the generators do when memory runs out (VM_FAULT_OOM)', () => {
    // Fewer free frames than pages to touch: the fault that finds none fails.
    const general = exhaust('generator', 64, 200);
    const plain = exhaust('plain', 64, 200);
    expect(general.error).toMatch(/out of memory/);
    expect(general.touched).toBeLessThan(200);
    expect(plain).toEqual(general);
  });
});
