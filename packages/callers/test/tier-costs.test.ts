import { folioNid, pfnFolio } from '@mmsim/folio';
import { createKernel, type KernelConfig } from '@mmsim/kernel';
import { PAGE_SIZE } from '@mmsim/rmap';
import { DEFAULT_COSTS, type KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  allocMisplacedDstFolio,
  kernelDemotionTargets,
  migrateMisplacedFolio,
} from '../src/index.js';

const PAGES = 4;

/** Virtual ns of: moving PAGES pages from node 0 to node 1, then reading each once. */
function measure(slow: KernelConfig['nodes'][number]) {
  const k = createKernel({ nodes: [{ pages: 512 }, slow], cpusPerNode: 1, zeroPage: false });
  const mm = k.createProcess('p');
  const addr = k.vm.mmap(mm, { length: PAGES * PAGE_SIZE });
  const out = { migrate: 0, read: 0, migrated: 0, onSlow: 0 };
  k.rt.spawn('t', 0, function* (): KernelGen {
    for (let i = 0; i < PAGES; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, 1 + i);
    yield* k.lru.lruAddDrainAll();
    const cpu = k.rt.current.cpu;
    const t0 = cpu.clock;
    const alloc = allocMisplacedDstFolio(k);
    for (let i = 0; i < PAGES; i++) {
      const folio = pfnFolio(k.mem, k.vm.followPage(mm, addr + i * PAGE_SIZE));
      out.migrated += yield* migrateMisplacedFolio(k, folio, 1, alloc);
    }
    const t1 = cpu.clock;
    for (let i = 0; i < PAGES; i++) yield* k.vm.userRead(mm, addr + i * PAGE_SIZE);
    out.migrate = t1 - t0;
    out.read = cpu.clock - t1;
  });
  k.run();
  for (let i = 0; i < PAGES; i++) {
    if (folioNid(k.mem, pfnFolio(k.mem, k.vm.followPage(mm, addr + i * PAGE_SIZE))) === 1) {
      out.onSlow++;
    }
  }
  return out;
}

describe('per-tier costs: a CXL-like node copies and answers slower', () => {
  it('a copy to a node with copyFactor f costs f times copyPage4k per page', () => {
    const dram = measure({ pages: 512, cpus: 0 });
    const cxl = measure({ pages: 512, cpus: 0, memory: { copyFactor: 3 } });
    expect(dram.onSlow).toBe(PAGES);
    expect(cxl.onSlow).toBe(PAGES);
    expect(cxl.migrate - dram.migrate).toBe(2 * DEFAULT_COSTS.copyPage4k * PAGES);
    expect(cxl.read).toBe(dram.read); // the copy factor leaves user accesses alone
  });

  it('a user access to a page of a node with accessFactor f costs f times userAccess', () => {
    const dram = measure({ pages: 512, cpus: 0 });
    const cxl = measure({ pages: 512, cpus: 0, memory: { accessFactor: 4 } });
    expect(cxl.read - dram.read).toBe(3 * DEFAULT_COSTS.userAccess * PAGES);
    expect(cxl.migrate).toBe(dram.migrate);
  });

  it('factors of 1 given explicitly change nothing (the default machine is unchanged)', () => {
    const dram = measure({ pages: 512, cpus: 0 });
    const ones = measure({ pages: 512, cpus: 0, memory: { accessFactor: 1, copyFactor: 1 } });
    expect(ones).toEqual(dram);
  });
});

describe('kernelDemotionTargets reads the machine’s distance table', () => {
  it('by default the nearest CPU-less node of the config’s table is preferred', () => {
    const k = createKernel({
      nodes: [{ pages: 256 }, { pages: 256, cpus: 0 }, { pages: 256, cpus: 0 }],
      distances: [
        [10, 40, 25],
        [40, 10, 20],
        [25, 20, 10],
      ],
    });
    const targets = kernelDemotionTargets(k);
    expect(targets[0]).toEqual({ preferred: [2], allowed: [2, 1] });
    // An explicit table still wins.
    expect(
      kernelDemotionTargets(k, [
        [10, 20, 30],
        [20, 10, 20],
        [30, 20, 10],
      ])[0],
    ).toEqual({ preferred: [1], allowed: [1, 2] });
  });
});
