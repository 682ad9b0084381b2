import { type Folio, folioCopyContents } from '@mmsim/folio';
import { checkInt, EOPNOTSUPP, type KernelGen } from '@mmsim/runtime';
import { type CopyOffload, folioSetContentCopied, type Migrator } from './copy-offload.js';
import { kernelBug } from './errors.js';

/**
 * Two copy providers for the batch-copy variant, costed by the copy-offload entries of the
 * runtime's cost model (docs/batch-copy.md has the table):
 *
 * - `DmaCopyMigrator`: the series' reference driver dcbm (RFC v6 patch 4/5
 *   "drivers/migrate_offload: add DMA batch copy driver (dcbm)"), DMAEngine memcpy channels.
 * - `ThreadCopyMigrator`: a multi-threaded CPU copy (Zi Yan, "mm: add multithreaded page
 *   copy", January 2025, and the mtcopy provider the series lists as a future migrator).
 *
 * Both decline a batch smaller than `minPages` with -EOPNOTSUPP (the size-based policy the
 * series leaves to providers since v5), copy the content of each pair, fire the
 * `migrate.copy_offload` fault site once per folio (a failed folio stays unmarked and the
 * move phase copies it on the CPU, as dcbm does on a DMA error) and mark the others
 * FOLIO_CONTENT_COPIED. The copy spans a scheduling point: other tasks run while the
 * channels or threads work, and that is the window in which `migrate_offload_unregister`
 * must wait (SRCU).
 *
 * Cost of one batch of n folios, p base pages, on the migrating CPU's clock:
 * DMA with c channels: `min(c, n) * dmaChannelSetup + ceil(p / min(c, n)) * dmaChannelPage4k`;
 * t threads: `(min(t, n) - 1) * copyThreadSetup + ceil(p / min(t, n)) * copyThreadPage4k`.
 * The helper threads' own CPUs are not charged (the model does not run them as tasks).
 */

/** What both providers share: the per-folio copy, the counters, the threshold. */
abstract class BatchCopyMigrator implements Migrator {
  readonly name: string;
  /** Batches below this many base pages are declined (-EOPNOTSUPP). */
  readonly minPages: number;
  /** `folios_migrated`: folios this provider copied and marked. */
  foliosMigrated = 0;
  /** `folios_failures`: folios whose copy failed (left to the CPU copy of the move phase). */
  foliosFailures = 0;
  /** Batches declined for their size. */
  batchesDeclined = 0;
  /** Copies in flight (entered, not yet returned). */
  inFlight = 0;
  /** The provider's resources are gone (module exit after unregister). */
  released = false;

  protected constructor(name: string, minPages: number) {
    this.name = name;
    checkInt('minPages', minPages, 0, 1 << 20);
    this.minPages = minPages;
  }

  /**
   * What the provider's module exit does after `migrate_offload_unregister` returned:
   * release its channels or threads. A copy still running in it is a use after free: a
   * kernel BUG in the model.
   */
  release(): void {
    if (this.inFlight > 0) {
      throw kernelBug(
        `${this.name} module exit`,
        `resources released while ${this.inFlight} batch cop${this.inFlight === 1 ? 'y is' : 'ies are'} still running in offload_copy (use after free)`,
      );
    }
    this.released = true;
  }

  protected abstract setupNs(offload: CopyOffload, lanes: number): number;
  protected abstract page4kNs(offload: CopyOffload): number;
  protected abstract lanes(count: number): number;

  *offloadCopy(
    offload: CopyOffload,
    dsts: readonly Folio[],
    srcs: readonly Folio[],
    count: number,
    nrPages: number,
  ): KernelGen<number> {
    if (this.released) {
      throw kernelBug(`${this.name} offload_copy`, 'called after the provider was released');
    }
    if (nrPages < this.minPages) {
      this.batchesDeclined++;
      return -EOPNOTSUPP;
    }
    const lanes = this.lanes(count);
    const rt = offload.rt;
    rt.charge(this.setupNs(offload, lanes));
    this.inFlight++;
    yield; // the channels (threads) copy while other tasks run
    if (this.released) {
      throw kernelBug(
        `${this.name} offload_copy`,
        'the provider was released while this copy was in flight (use after free)',
      );
    }
    rt.charge(Math.ceil(nrPages / lanes) * this.page4kNs(offload));
    const mem = offload.mem;
    const fault = offload.copyFault;
    for (let i = 0; i < count; i++) {
      if (fault.fire()) {
        this.foliosFailures++;
        continue;
      }
      folioCopyContents(mem, dsts[i]!, srcs[i]!);
      folioSetContentCopied(mem, dsts[i]!);
      this.foliosMigrated++;
    }
    this.inFlight--;
    return 0;
  }
}

/** Options of `DmaCopyMigrator`. */
export interface DmaCopyMigratorOptions {
  /** Default `dcbm`. */
  readonly name?: string;
  /** `nr_dma_chan`: DMA memcpy channels a batch is spread over. Default 4. */
  readonly channels?: number;
  /** Batches below this many base pages are declined. Default 32. */
  readonly minPages?: number;
}

/** dcbm: a batch spread over up to `channels` DMA memcpy channels working in parallel. */
export class DmaCopyMigrator extends BatchCopyMigrator {
  readonly channels: number;

  constructor(options: DmaCopyMigratorOptions = {}) {
    super(options.name ?? 'dcbm', options.minPages ?? 32);
    const channels = options.channels ?? 4;
    checkInt('channels', channels, 1, 64);
    this.channels = channels;
  }

  protected lanes(count: number): number {
    return Math.min(this.channels, count);
  }
  protected setupNs(offload: CopyOffload, lanes: number): number {
    return lanes * offload.costs.dmaChannelSetup;
  }
  protected page4kNs(offload: CopyOffload): number {
    return offload.costs.dmaChannelPage4k;
  }
}

/** Options of `ThreadCopyMigrator`. */
export interface ThreadCopyMigratorOptions {
  /** Default `mtcopy`. */
  readonly name?: string;
  /** Copy threads, the caller's included. Default 4. */
  readonly threads?: number;
  /** Batches below this many base pages are declined. Default 8. */
  readonly minPages?: number;
}

/** A multi-threaded CPU copy: the batch split over up to `threads` copy threads. */
export class ThreadCopyMigrator extends BatchCopyMigrator {
  readonly threads: number;

  constructor(options: ThreadCopyMigratorOptions = {}) {
    super(options.name ?? 'mtcopy', options.minPages ?? 8);
    const threads = options.threads ?? 4;
    checkInt('threads', threads, 1, 64);
    this.threads = threads;
  }

  protected lanes(count: number): number {
    return Math.min(this.threads, count);
  }
  protected setupNs(offload: CopyOffload, lanes: number): number {
    return (lanes - 1) * offload.costs.copyThreadSetup;
  }
  protected page4kNs(offload: CopyOffload): number {
    return offload.costs.copyThreadPage4k;
  }
}
