// biome-ignore-all assist/source/organizeImports: this file is a table of contents, kept in reading order by section
/**
 * @mmsim/page-lock/internal: may change in any release. The step functions behind
 * `PageLockTable` and the state they share, for prototypes and tests; users of the model
 * need only `@mmsim/page-lock`.
 *
 * The steps take a `PageLockState` first: the runtime, the memory, the owner tables, the
 * two hashed wait tables and the dependency checker.
 */

// The state the modules share, and the hashed wait tables it holds.
export type { PageLockState } from './page-lock-state.js';
export { FolioWaitTable } from './folio-wait-table.js';
export { BitWaitTable } from './bit-wait-table.js';
export { bitWaitTableIndex, folioWaitTableIndex } from './hash.js';

// PG_locked: folio_lock and its waits.
export {
  folioLockContended,
  folioLockFast,
  folioLockOwner,
  folioLockTransfer,
  folioPutWaitLocked,
  folioTrylock,
  folioUnlock,
  folioWaitLocked,
  migrationEntryWaitOnLocked,
} from './folio-lock.js';

// PG_writeback.
export {
  folioEndWriteback,
  folioStartWriteback,
  folioWaitWriteback,
  folioWritebackOwner,
  folioWritebackTransfer,
} from './writeback.js';

// Buffer heads and BH_Lock.
export { asBh, Bh } from './buffer-head.js';
export {
  type BufferIds,
  bufferUptodate,
  clearBufferUptodate,
  createBuffers,
  folioBuffers,
  getBh,
  putBh,
  setBhPage,
  setBufferUptodate,
} from './buffers.js';
export {
  bufferLocked,
  bufferLockOwner,
  bufferLockTransfer,
  lockBufferContended,
  lockBufferFast,
  trylockBuffer,
  unlockBuffer,
} from './buffer-lock.js';

// Helpers the modules share: naming, errors, wait resources.
export { hex } from './folio-hex.js';
export { ownerName } from './owner-name.js';
export { contract } from './contract-violation.js';
export { checkTarget } from './check-target.js';
export { folioBitResource } from './folio-bit-resource.js';
