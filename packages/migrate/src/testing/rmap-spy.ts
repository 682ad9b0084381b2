import type { Folio } from '@mmsim/folio';
import { type Rmap, type VirtualMemory, withRmapOverrides } from '@mmsim/rmap';

/** Counts of the Rmap calls the core made, per folio. */
export interface RmapSpy {
  readonly tryToMigrate: Map<Folio, number>;
  readonly tryToMigrateFlags: number[];
  readonly removeMigrationPtes: Array<[Folio, Folio]>;
}

/** An empty `RmapSpy`. */
export function newSpy(): RmapSpy {
  return { tryToMigrate: new Map(), tryToMigrateFlags: [], removeMigrationPtes: [] };
}

/**
 * An `Rmap` that forwards to `vm` and records the migration calls into `spy`; hand it to
 * `createMigrateMachine` as `wrapRmap`.
 */
export function spyingRmap(vm: VirtualMemory, spy: RmapSpy): Rmap {
  return withRmapOverrides(vm, {
    tryToMigrate(folio, flags) {
      spy.tryToMigrate.set(folio, (spy.tryToMigrate.get(folio) ?? 0) + 1);
      spy.tryToMigrateFlags.push(flags);
      return vm.tryToMigrate(folio, flags);
    },
    removeMigrationPtes(src, dst, locked) {
      spy.removeMigrationPtes.push([src, dst]);
      return vm.removeMigrationPtes(src, dst, locked);
    },
  });
}
