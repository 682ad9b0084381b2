import { type Actor, filemapLockFolioPlain, folioUnlockPutPlain, type Kernel } from '@mmsim/kernel';
import type { AddressSpaceView } from '@mmsim/rmap';
import { type KernelGen, MmsimError } from '@mmsim/runtime';

/** Options of `erofsReader`. */
export interface ErofsReaderOptions {
  /** Default `erofs-reader`. */
  readonly name?: string;
  readonly cpu: number;
  /** The file whose folio it holds locked while it reads... */
  readonly file: AddressSpaceView;
  readonly index: number;
  /** ...the metadata folio of the device (`erofs_read_metabuf` on the bdev mapping). */
  readonly meta: AddressSpaceView;
  readonly metaIndex: number;
  readonly rounds: number;
  /** Scheduling points while it holds the file folio, before locking the metadata. Default 1. */
  readonly holdSteps?: number;
}

/**
 * A reader that holds one file folio's lock while it locks a metadata folio, as EROFS
 * does: reading a (large) folio of a compressed file, `z_erofs_read_folio` /
 * `z_erofs_readahead` hold the file folio locked while `z_erofs_map_blocks_iter` ->
 * `erofs_read_metabuf` -> `read_cache_folio` locks a folio of the block device's page
 * cache to read the extent metadata (fs/erofs, 6.x). File folio before metadata folio:
 * the order Gao Xiang's 2024 report found inverted by `try_split_folio`.
 */
export function erofsReader(k: Kernel, options: ErofsReaderOptions): Actor {
  const { rounds } = options;
  const hold = options.holdSteps ?? 1;
  if (!Number.isInteger(rounds) || rounds < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `rounds must be a non-negative integer, got ${String(rounds)}`,
    );
  }
  return {
    name: options.name ?? 'erofs-reader',
    cpu: options.cpu,
    models:
      'z_erofs_read_folio (file folio locked) -> erofs_read_metabuf -> read_cache_folio (metadata folio lock) (fs/erofs/zdata.c, fs/erofs/data.c)',
    body: (): KernelGen => erofsReaderBody(k, options, hold),
  };
}

/** `erofsReader`'s task body (a module-level generator: see `initTask` in scenario.ts). */
function* erofsReaderBody(k: Kernel, options: ErofsReaderOptions, hold: number): KernelGen {
  const { file, index, meta, metaIndex, rounds } = options;
  // Each scheduling point as `if (!rt.virtualStep()) yield;`: the same step and decision
  // as the `yield`, taken without suspending when this task runs on.
  const rt = k.rt;
  for (let round = 0; round < rounds; round++) {
    // As plain calls while nothing waits; the generators from where they would.
    const got = filemapLockFolioPlain(k, file, index, 'z_erofs_read_folio');
    const folio = typeof got === 'number' ? got : yield* got;
    if (folio < 0) continue;
    for (let i = 0; i < hold; i++) if (!rt.virtualStep()) yield;
    const gotMeta = filemapLockFolioPlain(k, meta, metaIndex, 'erofs_read_metabuf');
    const mf = typeof gotMeta === 'number' ? gotMeta : yield* gotMeta;
    if (mf >= 0) {
      const rest = folioUnlockPutPlain(k, mf);
      if (rest !== null) yield* rest;
    }
    const rest = folioUnlockPutPlain(k, folio);
    if (rest !== null) yield* rest;
    if (!rt.virtualStep()) yield;
  }
}
