import type { LruVecs } from '@mmsim/lru';
import {
  type BaseMachine,
  type BaseMachineOptions,
  createBaseMachine,
  createLruMachine,
} from '@mmsim/lru/test';
import { PageLockTable } from '@mmsim/page-lock';
import type { ShmemHuge } from '../shmem.js';
import { VirtualMemory } from '../virtual-memory.js';

export interface RmapMachineOptions extends BaseMachineOptions {
  /** Pages of each node; default two nodes of 4096 pages. */
  readonly nodes?: readonly number[];
  /** Node of each CPU; default 4 CPUs, alternating between the nodes. */
  readonly cpuNodes?: readonly number[];
  /** Map the shared zero page on a read fault of anonymous memory; default true. */
  readonly zeroPage?: boolean;
  /**
   * Give the VirtualMemory an LRU (built by `@mmsim/lru/test`), so that faulted folios go
   * on it, as migration needs; default false (the rmap alone, no LRU references).
   */
  readonly lru?: boolean;
  /** Turn the page-lock dependency checker on; default false. */
  readonly dependencyChecking?: boolean;
  /** `VirtualMemoryOptions.tlbBatchSkipsInaccessible` (6.4's 4d4b6d66db63); default false. */
  readonly tlbBatchSkipsInaccessible?: boolean;
  /** `VirtualMemoryOptions.shmemEnabled` (shmem THP); default 'never'. */
  readonly shmemEnabled?: ShmemHuge;
}

/** A base machine with page locks and the virtual memory (processes, files, rmap, TLBs). */
export interface RmapMachine extends BaseMachine {
  readonly locks: PageLockTable;
  /** The LRU the virtual memory feeds, when built with `lru: true`; else null. */
  readonly lru: LruVecs | null;
  readonly vm: VirtualMemory;
}

/**
 * The rmap layer of the test fixtures: `@mmsim/lru/test`'s base machine (with its LRU when
 * `lru` is set), a `PageLockTable` and a `VirtualMemory` on top. `@mmsim/migrate/test`
 * builds on it.
 */
export function createRmapMachine(options: RmapMachineOptions = {}): RmapMachine {
  const nodes = options.nodes ?? [4096, 4096];
  const shape: BaseMachineOptions = {
    ...options,
    nodes,
    cpuNodes: options.cpuNodes ?? [0, 1, 0, 1].map((n) => n % nodes.length),
  };
  const withLru = options.lru === true ? createLruMachine(shape) : null;
  const lru = withLru === null ? null : withLru.lru;
  const { rt, mem, vmstat } = withLru ?? createBaseMachine(shape);
  const locks = new PageLockTable(rt, mem, {
    dependencyChecking: options.dependencyChecking ?? false,
  });
  const vm = new VirtualMemory(rt, mem, locks, vmstat, {
    ...(lru === null ? {} : { lru }),
    zeroPage: options.zeroPage ?? true,
    tlbBatchSkipsInaccessible: options.tlbBatchSkipsInaccessible ?? false,
    ...(options.shmemEnabled === undefined ? {} : { shmemEnabled: options.shmemEnabled }),
  });
  rt.setContextSwitchHook(vm.contextSwitch);
  return { rt, mem, vmstat, locks, lru, vm };
}
