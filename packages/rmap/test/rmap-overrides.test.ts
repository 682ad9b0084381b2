import { folioGet, folioPut, pfnFolio } from '@mmsim/folio';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, withRmapOverrides } from '../src/index.js';
import { createRmapMachine } from '../src/testing/index.js';

describe('withRmapOverrides', () => {
  it('forwards every call it does not override to the base rmap, and uses the overrides', () => {
    const m = createRmapMachine();
    const mm = m.vm.createProcess('p');
    const addr = m.vm.mmap(mm, { length: PAGE_SIZE });
    let migrations = 0;
    const rmap = withRmapOverrides(m.vm, {
      *tryToMigrate(folio, flags): KernelGen {
        migrations++;
        yield* m.vm.tryToMigrate(folio, flags);
      },
    });
    m.rt.spawn('t', 0, function* (): KernelGen {
      yield* m.vm.userWrite(mm, addr, 7);
      const folio = pfnFolio(m.mem, m.vm.followPage(mm, addr));
      expect(rmap.folioMapped(folio)).toBe(true);
      expect(rmap.folioMapcount(folio)).toBe(1);
      expect(rmap.folioAnonVma(folio)).toBe(m.vm.folioAnonVma(folio));
      expect(migrations).toBe(0);
      // try_to_migrate goes through the override, remove_migration_ptes to the base.
      folioGet(m.mem, folio);
      expect(m.locks.folioTrylock(folio)).toBe(true);
      yield* rmap.tryToMigrate(folio, 0);
      expect(migrations).toBe(1);
      expect(rmap.folioMapped(folio)).toBe(false);
      yield* rmap.removeMigrationPtes(folio, folio, false);
      expect(rmap.folioMapped(folio)).toBe(true);
      m.locks.folioUnlock(folio);
      folioPut(m.mem, folio);
    });
    expect(m.rt.run().status).toBe('completed');
    expect(Object.keys(rmap).sort()).toEqual(
      [
        'folioAnonVma',
        'folioGetAnonVma',
        'folioMapcount',
        'folioMapped',
        'putAnonVma',
        'removeMigrationPtes',
        'rmapWalk',
        'rmapWalkLocked',
        'tryToMigrate',
      ].sort(),
    );
  });
});
