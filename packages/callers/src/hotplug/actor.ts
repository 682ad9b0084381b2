import { nodeSpannedPages, nodeStartPfn } from '@mmsim/folio';
import type { Actor, Kernel } from '@mmsim/kernel';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import { type OfflineStats, offlinePages, offlineStats } from './offline-pages.js';

/**
 * Memory blocks (drivers/base/memory.c, 6.3): the unit user space onlines and offlines
 * through /sys/devices/system/memory/memoryN, `memory_block_size_bytes()` long. In the
 * model the size is the machine configuration's `memoryBlockPages` (default 1024 pages,
 * 4 MiB), and a node's blocks are counted from its first pfn.
 */
export function memoryBlockRange(
  k: Kernel,
  nid: number,
  index: number,
): { readonly startPfn: number; readonly nrPages: number } {
  const size = k.config.memoryBlockPages;
  if (!Number.isInteger(nid) || nid < 0 || nid >= k.nrNodes) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `memory block: node ${String(nid)} is not a node of the machine (0..${k.nrNodes - 1})`,
    );
  }
  const blocks = Math.floor(nodeSpannedPages(k.mem, nid) / size);
  if (!Number.isInteger(index) || index < 0 || index >= blocks) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `memory block: node ${nid} has ${blocks} whole blocks of ${size} pages; block ${String(index)} is not one of them`,
    );
  }
  return { startPfn: nodeStartPfn(k.mem, nid) + index * size, nrPages: size };
}

/** Options of `offlinePagesActor`. */
export interface OfflinePagesActorOptions {
  /** Default `offline-pages`. */
  readonly name?: string;
  readonly cpu: number;
  /** The node whose memory block goes offline. Default 0. */
  readonly node?: number;
  /** Which of the node's memory blocks (`memoryBlockRange`). Default 0. */
  readonly block?: number;
  /** Filled in as the offline goes; `ret` gets its result. */
  readonly stats?: OfflineStats;
}

/**
 * `echo offline > /sys/devices/system/memory/memoryN/state`: `memory_subsys_offline` ->
 * `memory_block_offline` -> `offline_pages(start_pfn, nr_pages)` for one memory block
 * (drivers/base/memory.c, mm/memory_hotplug.c, Linux 6.3).
 */
export function offlinePagesActor(k: Kernel, options: OfflinePagesActorOptions): Actor {
  const { startPfn, nrPages } = memoryBlockRange(k, options.node ?? 0, options.block ?? 0);
  const stats = options.stats ?? offlineStats();
  return {
    name: options.name ?? 'offline-pages',
    cpu: options.cpu,
    models:
      'memory_block_offline -> offline_pages: isolate, scan_movable_pages / do_migrate_range (MIGRATE_SYNC, MR_MEMORY_HOTPLUG), test_pages_isolated (mm/memory_hotplug.c, 6.3)',
    *body(): KernelGen {
      stats.ret = yield* offlinePages(k, startPfn, nrPages, { stats });
    },
  };
}
