import {
  createPhysicalMemory,
  type Folio,
  folioAlloc,
  folioFlags,
  folioRefCount,
  folioSetFlag,
  folioSetMapping,
  PAGE_MAPPING_ANON,
  PG_swapbacked,
  type PhysicalMemory,
} from '@mmsim/folio';
import {
  type KernelGen,
  MmsimError,
  type MmsimErrorCode,
  type RunResult,
  Runtime,
  type StrategySpec,
  VmStat,
} from '@mmsim/runtime';
import { expect } from 'vitest';
import { LruVecs, NR_LRU_LISTS } from '../src/index.js';

export interface Machine {
  readonly rt: Runtime;
  readonly mem: PhysicalMemory;
  readonly vmstat: VmStat;
  readonly lru: LruVecs;
}

export interface MachineOptions {
  /** Pages of each node; default two nodes of 4096 pages. */
  readonly nodes?: readonly number[];
  /** Node of each CPU; default 2 CPUs on node 0 and node 1 (or all on 0 with one node). */
  readonly cpuNodes?: readonly number[];
  readonly strategy?: StrategySpec;
  readonly seed?: number;
}

/** A runtime, memory, vmstat and LRU built for the same machine. */
export function machine(options: MachineOptions = {}): Machine {
  const nodes = options.nodes ?? [4096, 4096];
  const cpuNodes = options.cpuNodes ?? (nodes.length > 1 ? [0, 1] : [0, 0]);
  const rt = new Runtime({
    cpus: cpuNodes.length,
    cpuNodes: [...cpuNodes],
    strategy: options.strategy ?? 'in-order',
    seed: options.seed ?? 1,
  });
  const mem = createPhysicalMemory({ nodes: nodes.map((pages) => ({ pages })) });
  const vmstat = new VmStat(nodes.length);
  return { rt, mem, vmstat, lru: new LruVecs(rt, mem, vmstat) };
}

function alloc(mem: PhysicalMemory, nid: number, order: number): Folio {
  const folio = folioAlloc(mem, order, nid, { thisNode: true });
  if (folio < 0) throw new Error(`allocation of order ${order} on node ${nid} failed`);
  return folio;
}

/** An anonymous folio (PG_swapbacked, anon mapping) with one reference. */
export function anonFolio(mem: PhysicalMemory, nid = 0, order = 0): Folio {
  const folio = alloc(mem, nid, order);
  folioSetFlag(mem, folio, PG_swapbacked);
  folioSetMapping(mem, folio, PAGE_MAPPING_ANON, { anonVma: folio });
  return folio;
}

/** A page-cache folio of `mapping` (no PG_swapbacked) with one reference. */
export function fileFolio(mem: PhysicalMemory, nid = 0, order = 0, mapping: object = {}): Folio {
  const folio = alloc(mem, nid, order);
  folioSetMapping(mem, folio, 0, mapping);
  return folio;
}

/** A shmem folio: page cache, but PG_swapbacked. */
export function shmemFolio(mem: PhysicalMemory, nid = 0, order = 0): Folio {
  const folio = fileFolio(mem, nid, order, { shmem: true });
  folioSetFlag(mem, folio, PG_swapbacked);
  return folio;
}

/** Runs `body` as a task on `cpu` from the driver task, and returns its result. */
export function* onCpu<T>(rt: Runtime, cpu: number, body: () => KernelGen<T>): KernelGen<T> {
  const task = rt.spawn(`op-cpu${cpu}`, cpu, body);
  return (yield* rt.join(task)) as T;
}

/** Runs `script` as a driver task on CPU 0 and expects the run to complete. */
export function runScript(m: Machine, script: () => KernelGen<void>): RunResult {
  m.rt.spawn('driver', 0, script);
  const result = m.rt.run();
  expect(result.status).toBe('completed');
  return result;
}

/** Everything the LRU shows, plus the flags, references and place of `folios`. */
export function snapshot(m: Machine, folios: readonly Folio[]): unknown {
  const { lru, mem, vmstat } = m;
  const v = lru.view;
  const lists: unknown[] = [];
  for (let nid = 0; nid < v.nrNodes; nid++) {
    for (let l = 0; l < NR_LRU_LISTS; l++) {
      lists.push([v.listFolios(nid, l), v.listPages(nid, l)]);
    }
  }
  const batches: unknown[] = [];
  for (let cpu = 0; cpu < v.nrCpus; cpu++) batches.push(v.batchFolios(cpu));
  return {
    lists,
    batches,
    disable: v.lruDisableCount,
    vmstat: vmstat.entries(),
    folios: folios.map((f) => [
      folioFlags(mem, f),
      folioRefCount(mem, f),
      v.folioLru(f),
      v.inBatch(f),
    ]),
  };
}

/** Expects `fn` to throw an MmsimError with `code` (and `message`), changing nothing. */
export function expectMisuse(
  m: Machine,
  folios: readonly Folio[],
  fn: () => unknown,
  code: MmsimErrorCode,
  message?: RegExp,
): void {
  const before = snapshot(m, folios);
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected the call to throw').toBeInstanceOf(MmsimError);
  const err = thrown as MmsimError;
  expect(err.code, err.message).toBe(code);
  if (message !== undefined) expect(err.message).toMatch(message);
  expect(snapshot(m, folios)).toEqual(before);
}

/** Drives a generator to its end outside the scheduler (for one-step misuse checks). */
export function drive<T>(gen: KernelGen<T>): T {
  for (;;) {
    const r = gen.next();
    if (r.done === true) return r.value;
  }
}

/**
 * Runs `setup` in a driver task, snapshots, then runs `misuse` in the same task; expects
 * the run to end with an MmsimError of `code` and the LRU and `folios` unchanged.
 */
export function expectMisuseInRun(
  m: Machine,
  folios: readonly Folio[],
  setup: () => KernelGen<void>,
  misuse: () => KernelGen<unknown>,
  code: MmsimErrorCode,
  message?: RegExp,
): void {
  let before: unknown = null;
  m.rt.spawn('driver', 0, function* () {
    yield* setup();
    before = snapshot(m, folios);
    yield* misuse();
  });
  let thrown: unknown;
  try {
    m.rt.run();
  } catch (e) {
    thrown = e;
  }
  expect(before, 'setup did not finish').not.toBeNull();
  expect(thrown, 'expected the run to throw').toBeInstanceOf(MmsimError);
  const err = thrown as MmsimError;
  expect(err.code, err.message).toBe(code);
  if (message !== undefined) expect(err.message).toMatch(message);
  expect(snapshot(m, folios)).toEqual(before);
}
