import type { Rmap } from './rmap-interface.js';

/**
 * An `Rmap` that forwards every call to `base` except those in `overrides`: the start of a
 * replacement rmap part (`createKernel({ parts: { rmap: (vm) => withRmapOverrides(vm,
 * {...}) } })`), a spy, or a deliberately broken rmap for a test. `base` is usually the
 * default `VirtualMemory`, whose methods are on its prototype, so spreading it would copy
 * none of them.
 */
export function withRmapOverrides(base: Rmap, overrides: Partial<Rmap>): Rmap {
  return {
    tryToMigrate: overrides.tryToMigrate ?? ((folio, flags) => base.tryToMigrate(folio, flags)),
    removeMigrationPtes:
      overrides.removeMigrationPtes ??
      ((src, dst, locked) => base.removeMigrationPtes(src, dst, locked)),
    rmapWalk: overrides.rmapWalk ?? ((folio, rwc) => base.rmapWalk(folio, rwc)),
    rmapWalkLocked: overrides.rmapWalkLocked ?? ((folio, rwc) => base.rmapWalkLocked(folio, rwc)),
    folioGetAnonVma: overrides.folioGetAnonVma ?? ((folio) => base.folioGetAnonVma(folio)),
    putAnonVma: overrides.putAnonVma ?? ((anonVma) => base.putAnonVma(anonVma)),
    folioAnonVma: overrides.folioAnonVma ?? ((folio) => base.folioAnonVma(folio)),
    folioMapped: overrides.folioMapped ?? ((folio) => base.folioMapped(folio)),
    folioMapcount: overrides.folioMapcount ?? ((folio) => base.folioMapcount(folio)),
  };
}
