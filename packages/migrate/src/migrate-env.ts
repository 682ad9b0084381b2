import { machineBuffer, type PhysicalMemory } from '@mmsim/folio';
import type { LruIsolation } from '@mmsim/lru';
import type { PageLocks } from '@mmsim/page-lock';
import type { Rmap, TlbBatch } from '@mmsim/rmap';
import {
  type CostModel,
  type FaultPoint,
  MmsimError,
  type Runtime,
  type Tracepoint,
  type VmStat,
} from '@mmsim/runtime';
import type { MigrationTargetControl } from './alloc-migration-target.js';
import type { NewFolioFn } from './callbacks.js';
import { CopyOffload } from './copy-offload.js';
import { resolveVariant } from './define-variant.js';
import { DriverCallbackError, DriverContractError, type DriverErrorRecord } from './errors.js';
import { HugetlbState } from './hugetlb-state.js';
import type { MigrateServices } from './migrate-services.js';
import { ReasonCosts } from './reason-costs.js';
import { MigrateTracepoints, type MmsimFolioCopiedEvent } from './tracepoints.js';
import type { FolioCopyStep } from './variant-steps.js';
import type { MigrateVariant, VariantName } from './variants.js';

/**
 * What a `MigrateCore` is built from: the machine's parts as the interfaces their
 * packages export (a test may hand in fakes), the variant, and a few configuration
 * switches of the modelled kernel.
 */
export interface MigrateDeps {
  readonly rt: Runtime;
  readonly mem: PhysicalMemory;
  readonly vmstat: VmStat;
  readonly locks: PageLocks;
  readonly lru: LruIsolation;
  readonly rmap: Rmap;
  readonly tlb: TlbBatch;
  /** The kernel whose policy to follow; default `'v6.3'`. */
  readonly variant?: VariantName | MigrateVariant;
  /**
   * `thp_migration_supported()` (CONFIG_ARCH_ENABLE_THP_MIGRATION): true on x86-64, the
   * default. When false, a THP is split before migration.
   */
  readonly thpMigrationSupported?: boolean;
  /** `hugepage_migration_supported(h)` for the 2 MiB hstate; default true (x86-64). */
  readonly hugepageMigrationSupported?: boolean;
  /**
   * `invalidate_bh_lrus()`: drop the per-CPU buffer-head LRU references
   * (`buffer_migrate_folio_norefs` calls it once before giving up on a busy buffer). The
   * model keeps no bh LRUs, so the default does nothing; a scenario that models them
   * passes its own.
   */
  readonly invalidateBhLrus?: () => void;
}

/**
 * What the migration functions read (the kernel's globals and config switches, for one
 * machine): the parts, the variant, the tracepoints, the architecture switches, the
 * allocation fault point. Every field is fixed when the core is built; what changes lives
 * in the parts themselves, in `hstate` (the hugetlb active list) and in the caller's own
 * locals and lists: nothing of one `migrate_pages()` call is stored here, so two migrators
 * can share a core. The step functions of `@mmsim/migrate/internal` take it first, as the
 * other packages pass theirs; `MigrateCore.env` gives it to prototypes and tests.
 */
export class MigrateEnv implements MigrateServices {
  readonly rt: Runtime;
  readonly mem: PhysicalMemory;
  readonly vmstat: VmStat;
  readonly locks: PageLocks;
  readonly lru: LruIsolation;
  readonly rmap: Rmap;
  readonly tlb: TlbBatch;
  readonly costs: CostModel;
  readonly variant: MigrateVariant;
  /** `variant.syncLightNeedsUptodate`, for the buffer helpers (`MigrateServices`). */
  readonly syncLightNeedsUptodate: boolean;
  /** `variant.steps.folioCopy`, the variant's replacement of `folio_copy()` (`MigrateServices`). */
  readonly folioCopy: FolioCopyStep | undefined;
  /** `variant.copyBeforeFreeze`, for `__migrate_folio` (`MigrateServices`). */
  readonly copyBeforeFreeze: boolean;
  readonly thpMigrationSupported: boolean;
  readonly hugepageMigrationSupported: boolean;
  readonly tp: MigrateTracepoints;
  /** Fails `alloc_migration_target` when it fires (fault site `migrate.alloc_migration_target`). */
  readonly allocFault: FaultPoint;
  /**
   * Fails `folio_trylock` of src and dst in `migrate_folio_unmap` / `unmap_and_move` and of
   * dst in `unmap_and_move_huge_page` when it fires (fault site `migrate.folio_trylock`): as
   * if another task held the lock for a moment, which those callers cope with.
   */
  readonly trylockFault: FaultPoint;
  /** Fault site `migrate.extra_ref` (`MigrateServices.extraRefFault`). */
  readonly extraRefFault: FaultPoint;
  /** The 2 MiB hstate's active list and HPageMigratable bits. */
  readonly hstate: HugetlbState;
  /** The copy provider registration (`mm/migrate_copy_offload.c`), read by batch-copy variants. */
  readonly copyOffload: CopyOffload;
  /** What filesystem and driver callbacks are handed: a narrow view, built once. */
  readonly services: MigrateServices;
  /** The kernel WARN_ON_ONCE()s the model hit, one message per site, in order. */
  /** `migrate_pages()` costs per reason (`ReasonCosts`), in a buffer of the machine. */
  readonly reasonCosts: ReasonCosts;
  readonly warnings: string[] = [];
  /**
   * Errors of non-LRU movable page drivers that the core caught and undid (a callback
   * that threw or returned a value outside its contract), oldest first.
   */
  readonly driverErrors: DriverErrorRecord[] = [];
  /**
   * The per-pfn state bytes of `__migrate_folio_record` with the variant's
   * `dstStateInPrivate` (see migrate-folio-record.ts), taken on the first record.
   */
  dstStateBits: Uint8Array | null = null;
  /**
   * The core's `alloc_migration_target` (`MigrateCore.allocMigrationTarget`): what it
   * returns is a folio fit for dst by construction, so `callGetNewFolio` does not check it.
   */
  builtinNewFolio: NewFolioFn<MigrationTargetControl> | null = null;
  /** The sites `warnOnce` recorded, null until the first. */
  #warned: Set<string> | null = null;
  readonly #invalidateBhLrus: () => void;

  constructor(deps: MigrateDeps) {
    if (typeof deps !== 'object' || deps === null) {
      throw new MmsimError(
        'INVALID_CONFIG',
        'MigrateCore needs { rt, mem, vmstat, locks, lru, rmap, tlb }',
      );
    }
    // Each part and switch read by name, in this order (a core is built per explored
    // schedule: no array of keys and no reads by a computed key).
    checkPart(deps.rt, 'rt');
    checkPart(deps.mem, 'mem');
    checkPart(deps.vmstat, 'vmstat');
    checkPart(deps.locks, 'locks');
    checkPart(deps.lru, 'lru');
    checkPart(deps.rmap, 'rmap');
    checkPart(deps.tlb, 'tlb');
    checkSwitch(deps.thpMigrationSupported, 'thpMigrationSupported');
    checkSwitch(deps.hugepageMigrationSupported, 'hugepageMigrationSupported');
    if (deps.invalidateBhLrus !== undefined && typeof deps.invalidateBhLrus !== 'function') {
      throw new MmsimError('INVALID_CONFIG', 'MigrateCore: invalidateBhLrus must be a function');
    }
    if (deps.vmstat.nrNodes !== deps.mem.nrNodes) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `MigrateCore: vmstat has ${deps.vmstat.nrNodes} nodes but the memory has ${deps.mem.nrNodes}`,
      );
    }
    this.reasonCosts = new ReasonCosts(machineBuffer(deps.mem, ReasonCosts.BYTES));
    this.variant = resolveVariant(deps.variant);
    this.syncLightNeedsUptodate = this.variant.syncLightNeedsUptodate;
    this.folioCopy = this.variant.steps?.folioCopy;
    this.copyBeforeFreeze = this.variant.copyBeforeFreeze;
    this.rt = deps.rt;
    this.mem = deps.mem;
    this.vmstat = deps.vmstat;
    this.locks = deps.locks;
    this.lru = deps.lru;
    this.rmap = deps.rmap;
    this.tlb = deps.tlb;
    this.costs = deps.rt.costs;
    this.thpMigrationSupported = deps.thpMigrationSupported ?? true;
    this.hugepageMigrationSupported = deps.hugepageMigrationSupported ?? true;
    this.#invalidateBhLrus = deps.invalidateBhLrus ?? noBhLrus;
    this.tp = new MigrateTracepoints(deps.rt);
    this.allocFault = deps.rt.faults.register(
      'migrate.alloc_migration_target',
      'alloc_migration_target finds no free folio (migrate_pages gets -ENOMEM)',
    );
    this.trylockFault = deps.rt.faults.register(
      'migrate.folio_trylock',
      'folio_trylock of src or dst in the unmap step fails (async: -EAGAIN; sync: folio_lock sleeps)',
    );
    this.extraRefFault = deps.rt.faults.register(
      'migrate.extra_ref',
      'a speculative user holds a transient reference across folio_migrate_mapping (-EAGAIN, retried)',
    );
    this.hstate = new HugetlbState(deps.mem);
    this.copyOffload = new CopyOffload(deps.rt, deps.mem);
    this.services = Object.freeze({
      rt: this.rt,
      mem: this.mem,
      locks: this.locks,
      vmstat: this.vmstat,
      syncLightNeedsUptodate: this.syncLightNeedsUptodate,
      ...(this.folioCopy === undefined ? {} : { folioCopy: this.folioCopy }),
      norefsLockCoversCopy: this.variant.norefsLockCoversCopy,
      copyBeforeFreeze: this.copyBeforeFreeze,
      migrateMovesShmemThps: this.variant.migrateMovesShmemThps,
      folioCopied: this.tp.folioCopied,
      batchPrecopy: this.variant.copyStrategy === 'batch-precopy',
      extraRefFault: this.extraRefFault,
      warnOnce: (site: string, message: string) => this.warnOnce(site, message),
      invalidateBhLrus: () => this.invalidateBhLrus(),
    });
  }

  /** The `mmsim_folio_copied` tracepoint (`MigrateServices`). */
  get folioCopied(): Tracepoint<MmsimFolioCopiedEvent> {
    return this.tp.folioCopied;
  }

  /** `WARN_ON_ONCE` at `site`: records `message` the first time only. */
  warnOnce(site: string, message: string): void {
    let warned = this.#warned;
    if (warned === null) {
      warned = new Set();
      this.#warned = warned;
    } else if (warned.has(site)) return;
    warned.add(site);
    this.warnings.push(`WARNING in ${site}: ${message}`);
  }

  /**
   * Records a driver error (model only: a kernel callback cannot throw). `error` is a
   * `DriverContractError`, or what the callback threw, wrapped as a `DriverCallbackError`.
   */
  driverError(
    mops: { readonly name: string; readonly stopOnDriverError?: boolean },
    callback: string,
    folio: number,
    error: unknown,
  ): void {
    const typed =
      error instanceof DriverContractError || error instanceof DriverCallbackError
        ? error
        : new DriverCallbackError(mops.name, callback, error);
    const task = this.rt.currentTask;
    this.driverErrors.push({
      driver: mops.name,
      callback,
      folio,
      task: task === null ? null : task.name,
      clock: task === null ? 0 : task.cpu.clock,
      stop: mops.stopOnDriverError === true,
      error: typed,
    });
  }

  /** `invalidate_bh_lrus()`: the function given in `MigrateDeps`, or nothing. */
  invalidateBhLrus(): void {
    this.#invalidateBhLrus();
  }
}

/** A part of `MigrateDeps` must be an object. */
function checkPart(part: unknown, key: string): void {
  if (typeof part !== 'object' || part === null) {
    throw new MmsimError('INVALID_CONFIG', `MigrateCore: deps.${key} is missing`);
  }
}

/** A switch of `MigrateDeps` is a boolean or left out. */
function checkSwitch(value: unknown, key: string): void {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new MmsimError('INVALID_CONFIG', `MigrateCore: ${key} must be a boolean`);
  }
}

/** `invalidate_bh_lrus()` of a machine that models no bh LRUs: nothing to drop. */
function noBhLrus(): void {}
