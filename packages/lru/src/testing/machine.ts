import { createPhysicalMemory, type PhysicalMemory } from '@mmsim/folio';
import { Runtime, type StrategySpec, VmStat } from '@mmsim/runtime';
import { LruVecs } from '../lru-vecs.js';

/** The options every test machine shares: its NUMA shape and its schedule. */
export interface BaseMachineOptions {
  /** Pages of each node; default two nodes of 4096 pages. */
  readonly nodes?: readonly number[];
  /** Hugetlb pages reserved in each node's pool; default none. */
  readonly hugetlbPages?: readonly number[];
  /** Node of each CPU; default 2 CPUs on node 0 and node 1 (or both on 0 with one node). */
  readonly cpuNodes?: readonly number[];
  /** The runtime's scheduling strategy; default 'in-order'. */
  readonly strategy?: StrategySpec;
  readonly seed?: number;
}

/** A runtime, physical memory and vmstat built for the same machine: every fixture's floor. */
export interface BaseMachine {
  readonly rt: Runtime;
  readonly mem: PhysicalMemory;
  readonly vmstat: VmStat;
}

/** `BaseMachine` plus the default LRU (`LruVecs`). */
export interface LruMachine extends BaseMachine {
  readonly lru: LruVecs;
}

export type LruMachineOptions = BaseMachineOptions;

/**
 * The bottom layer of the test fixtures: one runtime, memory and vmstat of the same shape.
 * The fixtures above (`@mmsim/rmap/test`, `@mmsim/migrate/test`) start from it.
 */
export function createBaseMachine(options: BaseMachineOptions = {}): BaseMachine {
  const nodes = options.nodes ?? [4096, 4096];
  const cpuNodes = options.cpuNodes ?? (nodes.length > 1 ? [0, 1] : [0, 0]);
  const rt = new Runtime({
    cpus: cpuNodes.length,
    cpuNodes: [...cpuNodes],
    strategy: options.strategy ?? 'in-order',
    seed: options.seed ?? 1,
  });
  const mem = createPhysicalMemory({
    nodes: nodes.map((pages, i) => ({ pages, hugetlbPages: options.hugetlbPages?.[i] ?? 0 })),
  });
  return { rt, mem, vmstat: new VmStat(nodes.length) };
}

/** A base machine with an LRU: what this package's tests, and an LRU user's, start from. */
export function createLruMachine(options: LruMachineOptions = {}): LruMachine {
  const base = createBaseMachine(options);
  return { ...base, lru: new LruVecs(base.rt, base.mem, base.vmstat) };
}
