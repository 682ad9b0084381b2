import { type Folio, FolioList, folioTestHugetlb, type PhysicalMemory } from '@mmsim/folio';
import type { LruIsolation } from '@mmsim/lru';
import type { PageLocks } from '@mmsim/page-lock';
import type { AnonVma, Rmap, TlbBatch } from '@mmsim/rmap';
import {
  type CostModel,
  type FaultPoint,
  MmsimError,
  type Runtime,
  type VmStat,
} from '@mmsim/runtime';
import {
  type AddressSpaceOperations,
  FILEMAP_AOPS,
  HUGETLBFS_AOPS,
  SHMEM_AOPS,
} from './address-space-operations.js';
import { MigrateTracepoints } from './tracepoints.js';
import { type MigrateVariant, resolveVariant, type VariantName } from './variants.js';

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
 * The state the migration functions share (the kernel's globals, for one machine): the
 * parts, the variant, the tracepoints, the address-space operations of each mapping, the
 * hugetlb active list, and the out-parameters of `migrate_folio_unmap` and
 * `__migrate_folio_extract`. Functions take it as their first argument, as the other
 * packages pass their contexts; `MigrateCore.ctx` gives it to callbacks and prototypes.
 */
export class MigrateContext {
  readonly rt: Runtime;
  readonly mem: PhysicalMemory;
  readonly vmstat: VmStat;
  readonly locks: PageLocks;
  readonly lru: LruIsolation;
  readonly rmap: Rmap;
  readonly tlb: TlbBatch;
  readonly costs: CostModel;
  readonly variant: MigrateVariant;
  readonly thpMigrationSupported: boolean;
  readonly hugepageMigrationSupported: boolean;
  readonly invalidateBhLrus: () => void;
  readonly tp: MigrateTracepoints;
  /** Fails `alloc_migration_target` when it fires (fault site `migrate.alloc_migration_target`). */
  readonly allocFault: FaultPoint;
  /** `h->hugepage_activelist` of the 2 MiB hstate. */
  readonly hugepageActivelist: FolioList;
  /** HPageMigratable per pfn (hugetlb heads on the active list that may be isolated). */
  readonly hugetlbMigratable: Uint8Array;
  /** `*dstp` of the last `migrate_folio_unmap` that returned MIGRATEPAGE_UNMAP. */
  unmapDst = -1;
  /** The `page_was_mapped` of the last `__migrate_folio_extract`. */
  extractedWasMapped = 0;
  /** The `anon_vma` of the last `__migrate_folio_extract`. */
  extractedAnonVma: AnonVma | null = null;
  /** The kernel WARN_ON_ONCE()s the model hit, one message per site, in order. */
  readonly warnings: string[] = [];
  readonly #warned = new Set<string>();
  readonly #aops = new WeakMap<object, AddressSpaceOperations>();
  readonly #canWriteback = new WeakMap<object, boolean>();

  constructor(deps: MigrateDeps) {
    if (typeof deps !== 'object' || deps === null) {
      throw new MmsimError(
        'INVALID_CONFIG',
        'MigrateCore needs { rt, mem, vmstat, locks, lru, rmap, tlb }',
      );
    }
    for (const key of ['rt', 'mem', 'vmstat', 'locks', 'lru', 'rmap', 'tlb'] as const) {
      if (typeof deps[key] !== 'object' || deps[key] === null) {
        throw new MmsimError('INVALID_CONFIG', `MigrateCore: deps.${key} is missing`);
      }
    }
    for (const key of ['thpMigrationSupported', 'hugepageMigrationSupported'] as const) {
      const v = deps[key];
      if (v !== undefined && typeof v !== 'boolean') {
        throw new MmsimError('INVALID_CONFIG', `MigrateCore: ${key} must be a boolean`);
      }
    }
    if (deps.invalidateBhLrus !== undefined && typeof deps.invalidateBhLrus !== 'function') {
      throw new MmsimError('INVALID_CONFIG', 'MigrateCore: invalidateBhLrus must be a function');
    }
    if (deps.vmstat.nrNodes !== deps.mem.nrNodes) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `MigrateCore: vmstat has ${deps.vmstat.nrNodes} nodes but the memory has ${deps.mem.nrNodes}`,
      );
    }
    this.variant = resolveVariant(deps.variant);
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
    this.invalidateBhLrus = deps.invalidateBhLrus ?? (() => {});
    this.tp = new MigrateTracepoints(deps.rt);
    this.allocFault = deps.rt.faults.register(
      'migrate.alloc_migration_target',
      'alloc_migration_target finds no free folio (migrate_pages gets -ENOMEM)',
    );
    this.hugepageActivelist = new FolioList(deps.mem);
    this.hugetlbMigratable = new Uint8Array(deps.mem.maxPfn);
  }

  /** `WARN_ON_ONCE` at `site`: records `message` the first time only. */
  warnOnce(site: string, message: string): void {
    if (this.#warned.has(site)) return;
    this.#warned.add(site);
    this.warnings.push(`WARNING in ${site}: ${message}`);
  }

  /**
   * Registers the `address_space_operations` of a page-cache mapping (the object its
   * folios' `mapping` points at) and whether its backing device writes back
   * (`mapping_can_writeback`, default true).
   */
  setAddressSpaceOperations(
    mapping: object,
    aops: AddressSpaceOperations,
    options: { readonly canWriteback?: boolean } = {},
  ): void {
    if (typeof mapping !== 'object' || mapping === null) {
      throw new MmsimError('INVALID_ARGUMENT', 'the mapping must be an object (an address space)');
    }
    checkAops(aops);
    if (options.canWriteback !== undefined && typeof options.canWriteback !== 'boolean') {
      throw new MmsimError('INVALID_ARGUMENT', 'canWriteback must be a boolean');
    }
    this.#aops.set(mapping, aops);
    if (options.canWriteback !== undefined) this.#canWriteback.set(mapping, options.canWriteback);
  }

  /**
   * `mapping->a_ops` of a page-cache folio's mapping: the registered table; else
   * `hugetlbfs_aops` for a hugetlb folio, `shmem_aops` for a shmem mapping (an object
   * with `shmem: true`, as `@mmsim/rmap` marks them), `FILEMAP_AOPS` otherwise.
   */
  aopsOf(mapping: object, folio: Folio): AddressSpaceOperations {
    const registered = this.#aops.get(mapping);
    if (registered !== undefined) return registered;
    if (folioTestHugetlb(this.mem, folio)) return HUGETLBFS_AOPS;
    if (isShmem(mapping)) return SHMEM_AOPS;
    return FILEMAP_AOPS;
  }

  /**
   * `mapping_can_writeback(mapping)` (include/linux/backing-dev.h): the registered value;
   * else false for shmem (its backing device has no BDI_CAP_WRITEBACK), true otherwise.
   */
  mappingCanWriteback(mapping: object): boolean {
    return this.#canWriteback.get(mapping) ?? !isShmem(mapping);
  }
}

function isShmem(mapping: object): boolean {
  return (mapping as { shmem?: unknown }).shmem === true;
}

function checkAops(aops: AddressSpaceOperations): void {
  if (typeof aops !== 'object' || aops === null || typeof aops.name !== 'string') {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      'address_space_operations must be an object with a name (see AddressSpaceOperations)',
    );
  }
  for (const key of ['migrateFolio', 'writepage', 'releaseFolio'] as const) {
    const fn = aops[key];
    if (fn !== undefined && fn !== null && typeof fn !== 'function') {
      throw new MmsimError('INVALID_ARGUMENT', `${aops.name}.${key} must be a function or null`);
    }
  }
  if (!('migrateFolio' in aops)) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `${(aops as { name: string }).name}.migrateFolio must be given (null selects fallback_migrate_folio)`,
    );
  }
}
