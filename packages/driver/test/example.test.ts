import { folioNid } from '@mmsim/folio';
import { MIGRATE_ASYNC } from '@mmsim/migrate';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import type { DriverDefinition } from '../src/index.js';
import { migrateAll, twoNodes } from './support.js';

const EXAMPLE = new URL('../../../examples/drivers/my-driver.ts', import.meta.url).href;

describe("the README's 40-line driver (examples/drivers/my-driver.ts)", () => {
  it('loads as a module whose default export is a driver definition, and its pages migrate intact', async () => {
    const mod = (await import(EXAMPLE)) as { default: DriverDefinition<{ list: Set<number> }> };
    const def = mod.default;
    expect(def.spec.name).toBe('my-driver');
    for (const seed of [1, 2, 3]) {
      const k = twoNodes('v6.3', seed);
      const d = def.attach(k);
      d.populate(0, 5);
      k.rt.spawn('compact-a', 0, function* (): KernelGen {
        yield* migrateAll(k, () => d.host.pages, 1, MIGRATE_ASYNC);
      });
      k.rt.spawn('compact-b', 1, function* (): KernelGen {
        yield* migrateAll(k, () => d.host.pages, 1, MIGRATE_ASYNC);
      });
      k.run();
      expect(d.host.pages.map((f) => folioNid(k.mem, f))).toEqual([1, 1, 1, 1, 1]);
      expect([...d.state.list].sort()).toEqual([...d.host.pages].sort());
      expect(k.shadow.verifyAll()).toEqual([]);
      expect(k.driverErrors).toEqual([]);
    }
  });
});
