import type { LruVecs } from '@mmsim/lru';
import type { Rmap, TlbBatch, VirtualMemory } from '@mmsim/rmap';
import { createRmapMachine, type RmapMachine, type RmapMachineOptions } from '@mmsim/rmap/test';
import { resolveVariant } from '../define-variant.js';
import { MigrateCore } from '../migrate-core.js';
import type { MigrateVariant, VariantName } from '../variants.js';

export interface MigrateMachineOptions extends Omit<RmapMachineOptions, 'lru'> {
  /** Base pages per node; default two nodes of 8192. */
  readonly nodes?: readonly number[];
  /** Node of each CPU; default 8 CPUs alternating between the nodes. */
  readonly cpuNodes?: readonly number[];
  /** Map the shared zero page on a read fault; default false. */
  readonly zeroPage?: boolean;
  /** The kernel whose migration policy to follow; default the core's ('v6.3'). */
  readonly variant?: VariantName | MigrateVariant;
  readonly thpMigrationSupported?: boolean;
  readonly hugepageMigrationSupported?: boolean;
  /** Wraps the VirtualMemory handed to the core as its `Rmap` (to spy on calls). */
  readonly wrapRmap?: (vm: VirtualMemory) => Rmap;
  /** Wraps the VirtualMemory handed to the core as its `TlbBatch`. */
  readonly wrapTlb?: (vm: VirtualMemory) => TlbBatch;
  readonly invalidateBhLrus?: () => void;
}

/** `@mmsim/rmap/test`'s machine, with the LRU fed by faults, and a migrate core on top. */
export interface MigrateMachine extends RmapMachine {
  readonly lru: LruVecs;
  readonly core: MigrateCore;
}

/**
 * The top layer of the test fixtures: `createRmapMachine` with its LRU wired in and the
 * zero page off, and a `MigrateCore` on those parts. `createKernel` (`@mmsim/kernel`)
 * wires the same parts; it adds configuration checking, replaceable parts, fault
 * injection and shadow memory, which these fixtures leave out to stay small.
 */
export function createMigrateMachine(options: MigrateMachineOptions = {}): MigrateMachine {
  const nodes = options.nodes ?? [8192, 8192];
  const below = createRmapMachine({
    ...options,
    nodes,
    cpuNodes: options.cpuNodes ?? Array.from({ length: 8 }, (_, i) => i % nodes.length),
    zeroPage: options.zeroPage ?? false,
    lru: true,
    // mm/rmap.c of the variant's kernel, as createKernel wires it (4d4b6d66db63, 6.4).
    tlbBatchSkipsInaccessible:
      options.tlbBatchSkipsInaccessible ??
      resolveVariant(options.variant).tlbBatchSkipsInaccessible,
  });
  const { rt, mem, vmstat, locks, lru, vm } = below;
  if (lru === null) throw new Error('createRmapMachine ignored lru: true');
  const core = new MigrateCore({
    rt,
    mem,
    vmstat,
    locks,
    lru,
    rmap: options.wrapRmap?.(vm) ?? vm,
    tlb: options.wrapTlb?.(vm) ?? vm,
    ...(options.invalidateBhLrus === undefined
      ? {}
      : { invalidateBhLrus: options.invalidateBhLrus }),
    ...(options.variant === undefined ? {} : { variant: options.variant }),
    ...(options.hugepageMigrationSupported === undefined
      ? {}
      : { hugepageMigrationSupported: options.hugepageMigrationSupported }),
    ...(options.thpMigrationSupported === undefined
      ? {}
      : { thpMigrationSupported: options.thpMigrationSupported }),
  });
  return { ...below, lru, core };
}
