import { folioGet, folioPut } from '@mmsim/folio';
import { Completion, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import type { MmView } from '../src/index.js';
import { mutableMm } from '../src/internal.js';
import { createRmapMachine as machine, runAndCheck } from '../src/testing/index.js';

const N = 5;

/**
 * A page flush of a mm loaded on other CPUs (`flush_tlb_page` from `try_to_migrate_one`
 * without TTU_BATCH_FLUSH: a shootdown round) drops that page's entry on every CPU of the
 * mask and nothing else: the entries of the pages around it stay cached everywhere.
 */
describe('flush_tlb_page with other CPUs in the mask', () => {
  it('drops exactly the unmapped page on each remote CPU and on the local one', () => {
    const m = machine({ cpuNodes: [0, 0, 0, 0], nodes: [4096] });
    const { vm, rt, locks, mem } = m;
    const p: MmView = vm.createProcess();
    const addr = vm.mmap(p, { length: N * 4096 });
    const firstVpn = addr / 4096;
    const users = [1, 2, 3];
    const touched = new Completion(rt, 'touched');
    const done = new Completion(rt, 'done');
    for (const cpu of users) {
      rt.spawn(`user${cpu}`, cpu, function* (): KernelGen {
        for (let k = 0; k < N; k++) yield* vm.userWrite(p, addr + k * 4096, cpu * 10 + k);
        touched.complete();
        yield* done.wait(); // keeps the mm loaded (and not lazy) on this CPU
      });
    }
    rt.spawn('migrator', 0, function* (): KernelGen {
      for (let i = 0; i < users.length; i++) yield* touched.wait();
      yield* vm.userRead(p, addr); // the mm is loaded here too, with entries
      const tlbs = mutableMm(p).tlb;
      const cached = (cpu: number) =>
        Array.from({ length: N }, (_, k) => tlbs[cpu]?.has(firstVpn + k) === true);
      for (const cpu of users) expect(cached(cpu)).toEqual([true, true, true, true, true]);
      expect(cached(0)[0]).toBe(true);
      vm.tlbStats.reset();
      for (const k of [2, 0]) {
        const f = vm.followPage(p, addr + k * 4096);
        folioGet(mem, f);
        yield* locks.folioLock(f, 'test');
        yield* vm.tryToMigrate(f, 0);
        expect(vm.folioMapped(f)).toBe(false);
        yield* vm.removeMigrationPtes(f, f, false);
        locks.folioUnlock(f);
        folioPut(mem, f);
      }
      // Two pages, each one round to the three other CPUs.
      expect(vm.tlbStats.shootdowns).toBe(2);
      expect(vm.tlbStats.ipisSent).toBe(6);
      for (const cpu of users) expect(cached(cpu)).toEqual([false, true, false, true, true]);
      expect(cached(0)).toEqual([false, false, false, false, false]);
      done.completeAll();
    });
    runAndCheck(m);
  });
});
