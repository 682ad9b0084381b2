import type { PhysicalMemory } from '@mmsim/folio';
import type { LruIsolation, LruVecs } from '@mmsim/lru';
import type { MigrateCore, MigrateDeps } from '@mmsim/migrate';
import type { PageLocks, PageLockTable } from '@mmsim/page-lock';
import type { Rmap, TlbBatch, VirtualMemory } from '@mmsim/rmap';
import { MmsimError, type Runtime, type VmStat } from '@mmsim/runtime';

/**
 * What the migration actors need of a migrate core: `MigrateCore`'s public members. A
 * replacement (a prototype of a new policy, a spy) implements these.
 */
export type MigrateEngine = Pick<
  MigrateCore,
  | 'variant'
  | 'warnings'
  | 'migratePages'
  | 'putbackMovablePages'
  | 'allocMigrationTarget'
  | 'isolateMovablePage'
  | 'isolateHugetlb'
  | 'hugetlbAllocActive'
  | 'hugepageActivelist'
  | 'setAddressSpaceOperations'
>;

/** The foundations every part is built on; they are not replaceable. */
export interface PartsContext {
  readonly rt: Runtime;
  readonly mem: PhysicalMemory;
  readonly vmstat: VmStat;
}

/**
 * Replacement parts. Each factory receives the default implementation the kernel built
 * (so a replacement can wrap it, delegate to it, or ignore it) and the machine's
 * foundations, and returns another implementation of the same interface. Parts are built
 * bottom up: page locks, LRU, virtual memory (which uses the page locks and LRU returned
 * here), rmap and TLB batch (what the migrate core sees), migrate core.
 *
 * ```ts
 * createKernel({ nodes, parts: { lru: (base) => refusingLru(base) } });
 * ```
 */
export interface KernelParts {
  /** `PageLocks` for everyone (virtual memory, migrate core, actors). */
  readonly pageLocks?: (base: PageLockTable, ctx: PartsContext) => PageLocks;
  /** `LruIsolation`, also the virtual memory's LRU hooks. */
  readonly lru?: (base: LruVecs, ctx: PartsContext) => LruIsolation;
  /** The `Rmap` the migrate core uses (user accesses keep going through `vm`). */
  readonly rmap?: (vm: VirtualMemory, ctx: PartsContext) => Rmap;
  /** The `TlbBatch` the migrate core uses. */
  readonly tlb?: (vm: VirtualMemory, ctx: PartsContext) => TlbBatch;
  /** The migrate core, given the dependencies it would be built from and the default one. */
  readonly migrate?: (deps: MigrateDeps, base: MigrateCore) => MigrateEngine;
}

/** The names of the replaceable parts. */
export const PART_NAMES: readonly (keyof KernelParts)[] = [
  'pageLocks',
  'lru',
  'rmap',
  'tlb',
  'migrate',
];

/** Validates `config.parts`: an object whose known keys are functions. */
export function checkParts(parts: unknown): KernelParts {
  if (parts === undefined) return {};
  if (typeof parts !== 'object' || parts === null || Array.isArray(parts)) {
    throw new MmsimError(
      'INVALID_CONFIG',
      `parts must be an object { ${PART_NAMES.join(', ')} } of factory functions`,
    );
  }
  for (const [key, value] of Object.entries(parts)) {
    if (!(PART_NAMES as readonly string[]).includes(key)) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `parts.${key} is not a known part (known: ${PART_NAMES.join(', ')})`,
      );
    }
    if (value !== undefined && typeof value !== 'function') {
      throw new MmsimError(
        'INVALID_CONFIG',
        `parts.${key} must be a factory function (base, ctx) => implementation, got ${typeof value}`,
      );
    }
  }
  return parts as KernelParts;
}

/** Throws INVALID_CONFIG unless a factory returned an object with the listed methods. */
export function checkPart<T>(name: string, part: T, methods: readonly string[]): T {
  if (typeof part !== 'object' || part === null) {
    throw new MmsimError('INVALID_CONFIG', `parts.${name} returned ${String(part)}, not an object`);
  }
  for (const m of methods) {
    if (typeof (part as Record<string, unknown>)[m] !== 'function') {
      throw new MmsimError(
        'INVALID_CONFIG',
        `parts.${name} returned an object without ${m}(): it must implement the whole interface`,
      );
    }
  }
  return part;
}
