import { folioNid } from '@mmsim/folio';
import { MIGRATE_SYNC, MR_SYSCALL, VARIANTS, type VariantName } from '@mmsim/migrate';
import { CLEAR_REFS_SOFT_DIRTY, PAGE_SIZE } from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { createKernel } from '../src/index.js';
import { migrateOne } from './helpers.js';

/* Soft-dirty through the migration core (x86, Linux 6.3 semantics in every variant). */
describe('soft-dirty through migrate_pages', () => {
  for (const variant of Object.keys(VARIANTS) as VariantName[]) {
    it(`a soft-dirty page stays soft-dirty and a cleared one stays clean across migration (${variant})`, () => {
      const k = createKernel({ nodes: [{ pages: 2048 }, { pages: 2048 }], variant });
      const mm = k.createProcess('p');
      const addr = k.vm.mmap(mm, { length: 2 * PAGE_SIZE });
      k.rt.spawn('main', 0, function* (): KernelGen {
        yield* k.vm.userWrite(mm, addr, 1);
        yield* k.vm.userRead(mm, addr + PAGE_SIZE); // the zero page
        yield* k.vm.clearRefs(mm, CLEAR_REFS_SOFT_DIRTY);
        expect(k.vm.pagemap(mm, addr).softDirty).toBe(false);
        yield* k.vm.userWrite(mm, addr, 2); // wp fault: soft-dirty again
        yield* k.lru.lruAddDrain();
        const src = k.vm.followPage(mm, addr);
        expect(yield* migrateOne(k, src, 1, MIGRATE_SYNC, MR_SYSCALL)).toBe(0);
        const dst = k.vm.followPage(mm, addr);
        expect(folioNid(k.mem, dst)).toBe(1);
        expect(k.vm.pagemap(mm, addr)).toMatchObject({ present: true, pfn: dst, softDirty: true });
        expect(k.vm.pagemap(mm, addr + PAGE_SIZE).softDirty).toBe(false);
        expect(yield* k.vm.userRead(mm, addr)).toBe(2);
      });
      k.run();
    });
  }
});
