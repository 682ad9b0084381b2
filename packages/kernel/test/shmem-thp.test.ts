import {
  folioNid,
  folioOrder,
  HPAGE_PMD_NR,
  HPAGE_PMD_ORDER,
  pfnFolio,
  setPageContent,
} from '@mmsim/folio';
import { MIGRATE_SYNC, MR_SYSCALL } from '@mmsim/migrate';
import { MAP_ANONYMOUS, MAP_SHARED, PAGE_SIZE, PMD_SIZE } from '@mmsim/rmap';
import { type KernelGen, MmsimError, NodeStat, VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { createKernel, resolveKernelConfig } from '../src/index.js';
import { migrateOne } from './helpers.js';

describe('shmem_enabled in the machine configuration', () => {
  it("defaults to 'never' and takes the four huge= values; anything else names the field", () => {
    expect(resolveKernelConfig({ nodes: [{ pages: 4096 }] }).shmemEnabled).toBe('never');
    for (const v of ['never', 'always', 'within_size', 'advise'] as const) {
      expect(resolveKernelConfig({ nodes: [{ pages: 4096 }], shmemEnabled: v }).shmemEnabled).toBe(
        v,
      );
    }
    expect(() =>
      resolveKernelConfig({ nodes: [{ pages: 4096 }], shmemEnabled: 'force' as never }),
    ).toThrow(
      /^shmemEnabled must be 'never', 'always', 'within_size' or 'advise' \(shmem_enabled\)/,
    );
    expect(() =>
      resolveKernelConfig({ nodes: [{ pages: 4096 }], shmemEnabled: 'force' as never }),
    ).toThrow(MmsimError);
  });

  it('a kernel with shmem_enabled=always faults PMD-size shmem folios and migrates them whole', () => {
    const k = createKernel({ nodes: [{ pages: 8192 }, { pages: 8192 }], shmemEnabled: 'always' });
    expect(k.vm.shmemEnabled).toBe('always');
    const p = k.vm.createProcess('p');
    const addr = k.vm.mmap(p, { length: PMD_SIZE, flags: MAP_SHARED | MAP_ANONYMOUS });
    k.rt.spawn('t', 0, function* (): KernelGen {
      for (const i of [0, 100, 511]) yield* k.vm.userWrite(p, addr + i * PAGE_SIZE, 7 + i);
      const src = pfnFolio(k.mem, k.vm.followPage(p, addr));
      expect(folioOrder(k.mem, src)).toBe(HPAGE_PMD_ORDER);
      expect(k.vmstat.nodePageState(0, NodeStat.NR_SHMEM_HUGEPAGES)).toBe(HPAGE_PMD_NR);
      expect(yield* migrateOne(k, src, 1, MIGRATE_SYNC, MR_SYSCALL)).toBe(0);
      const dst = pfnFolio(k.mem, k.vm.followPage(p, addr));
      expect(folioNid(k.mem, dst)).toBe(1);
      expect(folioOrder(k.mem, dst)).toBe(HPAGE_PMD_ORDER);
      for (const i of [0, 100, 511])
        expect(yield* k.vm.userRead(p, addr + i * PAGE_SIZE)).toBe(7 + i);
      expect(k.vmstat.vmEvent(VmEvent.THP_MIGRATION_SUCCESS)).toBe(1);
    });
    expect(k.rt.run().status).toBe('completed');
    expect(k.vm.check({ quiescent: true })).toEqual([]);
  });

  it('shadow memory checks each page word of a shmem THP, before and after it migrates whole', () => {
    const k = createKernel({ nodes: [{ pages: 8192 }, { pages: 8192 }], shmemEnabled: 'always' });
    const p = k.vm.createProcess('p');
    const addr = k.vm.mmap(p, { length: PMD_SIZE, flags: MAP_SHARED | MAP_ANONYMOUS });
    const pages = [0, 7, 200, 511];
    let dst = -1;
    k.rt.spawn('t', 0, function* (): KernelGen {
      for (const i of pages) {
        const at = addr + i * PAGE_SIZE;
        yield* k.vm.userWrite(p, at, 40 + i);
        k.shadow.wrote(k.shadow.userLocation(p, at), 40 + i, 't');
      }
      expect(k.shadow.userLocation(p, addr + 7 * PAGE_SIZE)).toMatchObject({
        kind: 'file',
        index: 7,
      });
      expect(k.shadow.verifyAll()).toEqual([]);
      const src = pfnFolio(k.mem, k.vm.followPage(p, addr));
      expect(yield* migrateOne(k, src, 1, MIGRATE_SYNC, MR_SYSCALL)).toBe(0);
      dst = pfnFolio(k.mem, k.vm.followPage(p, addr));
      expect(dst).not.toBe(src);
    });
    expect(k.rt.run().status).toBe('completed');
    // Every word followed its page into the new folio.
    expect(k.shadow.verifyAll()).toEqual([]);
    // A lost write to one page of the large folio is found at that page's index only.
    setPageContent(k.mem, dst + 200, 1);
    const lost = k.shadow.verifyAll();
    expect(lost).toHaveLength(1);
    expect(lost[0]).toMatch(/\[200\] holds 1, but the last value written there was 240/);
  });
});
