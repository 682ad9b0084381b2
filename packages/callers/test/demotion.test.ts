import { folioNid, pfnFolio } from '@mmsim/folio';
import { createKernel } from '@mmsim/kernel';
import { MIGRATE_ASYNC, MR_DEMOTION } from '@mmsim/migrate';
import { PAGE_SIZE } from '@mmsim/rmap';
import { type KernelGen, NodeStat, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { type DemotionResult, kernelDemotionTargets, kswapdDemote } from '../src/index.js';

describe('demotion from reclaim (demote_folio_list, 6.3)', () => {
  it('kswapd demotes cold pages of the CPU node to the CPU-less node with MR_DEMOTION', () => {
    const k = createKernel({
      nodes: [{ pages: 512 }, { pages: 512, cpus: 0 }],
      cpusPerNode: 2,
      variant: 'v6.3',
      zeroPage: false,
    });
    const targets = kernelDemotionTargets(k);
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 8 * PAGE_SIZE });
    const starts: Array<{ mode: number; reason: number }> = [];
    k.rt.trace.on('mm_migrate_pages_start', (e) => {
      starts.push(e.fields as { mode: number; reason: number });
    });
    const result: DemotionResult = { demoted: 0, stayed: 0 };
    let ready = false;
    k.rt.spawn('setup', 0, function* (): KernelGen {
      for (let i = 0; i < 8; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, 100 + i);
      yield* k.lru.lruAddDrainAll();
      ready = true;
    });
    const kswapd = kswapdDemote(k, { cpu: 1, nid: 0, targets, batch: 4, result });
    const body = kswapd.body;
    k.spawn({
      ...kswapd,
      *body(task): KernelGen {
        while (!ready) yield;
        yield* body(task);
      },
    });
    k.run();
    expect(starts).toEqual([{ mode: MIGRATE_ASYNC, reason: MR_DEMOTION }]);
    expect(result).toEqual({ demoted: 4, stayed: 0 });
    expect(k.vmstat.vmEvent(VmEvent.PGDEMOTE_KSWAPD)).toBe(4);
    expect(k.vmstat.vmEvent(VmEvent.PGDEMOTE_DIRECT)).toBe(0);
    let onSlow = 0;
    for (let i = 0; i < 8; i++) {
      const pfn = k.vm.followPage(mm, addr + i * PAGE_SIZE);
      if (folioNid(k.mem, pfnFolio(k.mem, pfn)) === 1) onSlow++;
    }
    expect(onSlow).toBe(4);
  });

  it('a machine without a slower node demotes nothing and keeps the folios', () => {
    const k = createKernel({ nodes: [{ pages: 256 }, { pages: 256 }], variant: 'v6.3' });
    const targets = kernelDemotionTargets(k);
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: 2 * PAGE_SIZE });
    const result: DemotionResult = { demoted: 0, stayed: 0 };
    let ready = false;
    k.rt.spawn('setup', 0, function* (): KernelGen {
      for (let i = 0; i < 2; i++) yield* k.vm.userWrite(mm, addr + i * PAGE_SIZE, 1);
      yield* k.lru.lruAddDrainAll();
      ready = true;
    });
    const a = kswapdDemote(k, { cpu: 1, nid: 0, targets, result, direct: true });
    const body = a.body;
    k.spawn({
      ...a,
      *body(task): KernelGen {
        while (!ready) yield;
        yield* body(task);
      },
    });
    k.run();
    expect(result).toEqual({ demoted: 0, stayed: 2 });
    expect(k.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS)).toBe(0);
    expect(k.vmstat.nodePageState(0, NodeStat.NR_ISOLATED_ANON)).toBe(0);
    for (let i = 0; i < 2; i++) {
      expect(folioNid(k.mem, pfnFolio(k.mem, k.vm.followPage(mm, addr + i * PAGE_SIZE)))).toBe(0);
    }
  });
});
