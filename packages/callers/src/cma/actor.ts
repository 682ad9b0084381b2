import type { Actor, Kernel } from '@mmsim/kernel';
import { type KernelGen, MmsimError } from '@mmsim/runtime';
import { type ContigMigrateStats, cmaAlloc, cmaArea, cmaRelease } from './cma.js';

/** What a `cmaAllocActor` did. */
export interface CmaActorStats {
  /** First pfn of each successful allocation. */
  readonly allocated: number[];
  /** Failed `cma_alloc` calls, with their errno. */
  readonly failures: number[];
  /** The last `__alloc_contig_migrate_range`. */
  readonly migrate: ContigMigrateStats;
}

/** A fresh `CmaActorStats`. */
export function cmaActorStats(): CmaActorStats {
  return { allocated: [], failures: [], migrate: { rounds: 0, migrated: 0, mapped: 0, ret: 0 } };
}

/** Options of `cmaAllocActor`. */
export interface CmaAllocActorOptions {
  /** Default `cma-alloc`. */
  readonly name?: string;
  readonly cpu: number;
  /** The CMA area, by name; default the machine's first. */
  readonly area?: string;
  /** Pages per allocation. */
  readonly count: number;
  /** `align` order. Default 0. */
  readonly align?: number;
  /** Allocations, one after the other. Default 1. */
  readonly allocations?: number;
  /** Give each allocation back (`cma_release`) before the next one. Default true. */
  readonly release?: boolean;
  readonly stats?: CmaActorStats;
}

/**
 * A driver taking contiguous memory from a CMA area: `cma_alloc(cma, count, align, false)`
 * (mm/cma.c, Linux 6.3), `allocations` times, each allocation given back with
 * `cma_release` unless `release` is false.
 */
export function cmaAllocActor(k: Kernel, options: CmaAllocActorOptions): Actor {
  const cma = cmaArea(k, options.area);
  const allocations = options.allocations ?? 1;
  if (!Number.isInteger(allocations) || allocations < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `cmaAllocActor: allocations must be a non-negative integer, got ${String(allocations)}`,
    );
  }
  if (!Number.isInteger(options.count) || options.count < 1 || options.count > cma.count) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `cmaAllocActor: count must be in [1, ${cma.count}] (the area '${cma.name}'), got ${String(options.count)}`,
    );
  }
  const stats = options.stats ?? cmaActorStats();
  const release = options.release ?? true;
  return {
    name: options.name ?? 'cma-alloc',
    cpu: options.cpu,
    models:
      'cma_alloc -> alloc_contig_range (MIGRATE_CMA) -> __alloc_contig_migrate_range (MIGRATE_SYNC, MR_CONTIG_RANGE), cma_release (mm/cma.c, mm/page_alloc.c, 6.3)',
    *body(): KernelGen {
      for (let i = 0; i < allocations; i++) {
        const pfn = yield* cmaAlloc(k, cma, options.count, {
          align: options.align ?? 0,
          stats: stats.migrate,
        });
        if (pfn < 0) {
          stats.failures.push(pfn);
          continue;
        }
        stats.allocated.push(pfn);
        if (release) cmaRelease(k, cma, pfn, options.count);
        yield; // the driver uses the buffer
      }
    },
  };
}
