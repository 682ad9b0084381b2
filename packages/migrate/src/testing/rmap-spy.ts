import type { Folio } from '@mmsim/folio';
import type { Rmap, VirtualMemory } from '@mmsim/rmap';

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
  return {
    tryToMigrate(folio, flags) {
      spy.tryToMigrate.set(folio, (spy.tryToMigrate.get(folio) ?? 0) + 1);
      spy.tryToMigrateFlags.push(flags);
      return vm.tryToMigrate(folio, flags);
    },
    removeMigrationPtes(src, dst, locked) {
      spy.removeMigrationPtes.push([src, dst]);
      return vm.removeMigrationPtes(src, dst, locked);
    },
    rmapWalk: (folio, rwc) => vm.rmapWalk(folio, rwc),
    rmapWalkLocked: (folio, rwc) => vm.rmapWalkLocked(folio, rwc),
    folioGetAnonVma: (folio) => vm.folioGetAnonVma(folio),
    putAnonVma: (av) => vm.putAnonVma(av),
    folioAnonVma: (folio) => vm.folioAnonVma(folio),
    folioMapped: (folio) => vm.folioMapped(folio),
    folioMapcount: (folio) => vm.folioMapcount(folio),
  };
}
