import type { Actor, Kernel } from '@mmsim/kernel';
import { type KernelGen, MmsimError, type Task } from '@mmsim/runtime';

/** Options of `ksmd`. */
export interface KsmdOptions {
  /** The task's comm; default `ksmd`. */
  readonly name?: string;
  readonly cpu: number;
  /** `/sys/kernel/mm/ksm/pages_to_scan`: pages per `ksm_do_scan`. Default 100 (6.3's default). */
  readonly pagesToScan?: number;
  /** `/sys/kernel/mm/ksm/sleep_millisecs`, in virtual ns. Default 20 ms (6.3's default). */
  readonly sleepNs?: number;
  /** Stop after this many `ksm_do_scan` batches. */
  readonly batches: number;
  /** Stop early once this many full scans (`full_scans`) are done. Default: no limit. */
  readonly fullScans?: number;
  /** Counters to fill in. */
  readonly stats?: KsmdStats;
}

/** What ksmd did. */
export interface KsmdStats {
  batches: number;
  pagesScanned: number;
}

/** A new, zeroed `KsmdStats`. */
export function ksmdStats(): KsmdStats {
  return { batches: 0, pagesScanned: 0 };
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `ksmd: ${name} must be an integer >= ${min}, got ${String(value)}`,
    );
  }
}

/**
 * The KSM daemon (`ksm_scan_thread`, mm/ksm.c, 6.3): a kernel thread that, while KSM runs,
 * calls `ksm_do_scan(pages_to_scan)` under `ksm_thread_mutex` and then sleeps
 * `sleep_millisecs` (`wait_event_freezable_timeout`). Each batch scans the registered mms'
 * mergeable pages (`Kernel.ksmDoScan`, with `lru_add_drain_all` at the start of a
 * full scan) and merges pages of equal content into KSM pages.
 */
export function ksmd(k: Kernel, options: KsmdOptions): Actor {
  const pagesToScan = options.pagesToScan ?? 100;
  const sleepNs = options.sleepNs ?? 20_000_000;
  checkCount('pagesToScan', pagesToScan, 1);
  checkCount('batches', options.batches, 0);
  if (!(sleepNs >= 0 && Number.isFinite(sleepNs))) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `ksmd: sleepNs must be a finite number >= 0, got ${String(sleepNs)}`,
    );
  }
  if (options.fullScans !== undefined) checkCount('fullScans', options.fullScans, 1);
  return {
    name: options.name ?? 'ksmd',
    cpu: options.cpu,
    models: 'ksm_scan_thread: ksm_do_scan(pages_to_scan) then sleep_millisecs (mm/ksm.c, 6.3)',
    *body(_task: Task): KernelGen {
      const stats = options.stats;
      for (let n = 0; n < options.batches; n++) {
        if (options.fullScans !== undefined && k.vm.ksmStats.fullScans >= options.fullScans) break;
        const scanned = yield* k.ksmDoScan(pagesToScan);
        if (stats !== undefined) {
          stats.batches++;
          stats.pagesScanned += scanned;
        }
        if (sleepNs > 0) yield* k.rt.sleepFor(sleepNs);
        else yield;
      }
    },
  };
}
