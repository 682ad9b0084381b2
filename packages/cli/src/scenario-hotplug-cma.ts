import { type Actor, DEFAULT_MEMORY_BLOCK_PAGES, type Kernel } from '@mmsim/kernel';
import { cmaAllocActor, offlinePagesActor } from '@mmsim/scenarios';
import { z } from 'zod';
import { count, name } from './scenario-fields.js';

/**
 * The scenario-file actor kinds of the memory hotplug and CMA callers (`offline-pages`,
 * `cma-alloc`): their schemas, their cross-field checks and how they are built.
 */

/** `offline-pages`: a memory block taken offline (`offlinePagesActor` of @mmsim/callers). */
export const offlinePagesSchema = z
  .object({
    type: z
      .literal('offline-pages')
      .describe(
        "echo offline > /sys/devices/system/memory/memoryN/state: offline_pages on one of a node's memory blocks (MIGRATE_SYNC, MR_MEMORY_HOTPLUG).",
      ),
    name: name.optional().describe("The task's comm; default offline-pages."),
    cpu: count('a CPU number', 0, 4095).describe("The CPU it runs on (one of the machine's)."),
    node: count('a node id', 0, 63).describe('The node whose memory block goes offline.'),
    block: count('a memory block index', 0, 1 << 16)
      .optional()
      .describe(
        "Which of the node's memory blocks (config.memoryBlockPages pages each, from the node's first pfn); default 0.",
      ),
  })
  .strict();

/** `cma-alloc`: a driver taking pages from a CMA area (`cmaAllocActor` of @mmsim/callers). */
export const cmaAllocSchema = z
  .object({
    type: z
      .literal('cma-alloc')
      .describe(
        'cma_alloc from a CMA area of config.cma (alloc_contig_range: MIGRATE_SYNC, MR_CONTIG_RANGE), each allocation released before the next.',
      ),
    name: name.optional().describe("The task's comm; default cma-alloc."),
    cpu: count('a CPU number', 0, 4095).describe("The CPU it runs on (one of the machine's)."),
    area: z
      .string({ invalid_type_error: 'must be the name of an area of config.cma' })
      .optional()
      .describe("The CMA area, by name; default the first of config.cma ('reserved')."),
    count: count('a number of pages', 1, 1 << 24).describe('Pages of each cma_alloc.'),
    align: count('an alignment order', 0, 10)
      .optional()
      .describe('The run starts at a multiple of 2^align pages; default 0.'),
    allocations: count('a number of allocations', 1, 1e6)
      .optional()
      .describe('cma_alloc calls, one after the other; default 1.'),
    release: z
      .boolean({ invalid_type_error: 'must be true or false' })
      .optional()
      .describe('Release each allocation (cma_release) before the next; default true.'),
  })
  .strict();

type OfflinePagesActor = z.infer<typeof offlinePagesSchema>;
type CmaAllocActor = z.infer<typeof cmaAllocSchema>;

/** The parts of a scenario file's configuration these checks read. */
interface ConfigView {
  readonly nodes: ReadonlyArray<{ readonly pages: number }>;
  readonly memoryBlockPages?: number;
  readonly cma?: ReadonlyArray<{ readonly name?: string; readonly pages: number }>;
}

/**
 * The cross-field rules of an `offline-pages` or `cma-alloc` actor: a node of the machine
 * and one of its whole memory blocks; a CMA area of the configuration the count fits in.
 * Returns `[field, message]` or null.
 */
export function hotplugCmaActorProblem(
  a: OfflinePagesActor | CmaAllocActor,
  i: number,
  config: ConfigView,
): [string, string] | null {
  if (a.type === 'offline-pages') {
    const nodes = config.nodes;
    if (a.node >= nodes.length) {
      return [
        `actors[${i}].node`,
        `is node ${a.node}, but the machine has ${nodes.length} node${nodes.length === 1 ? '' : 's'} (0 to ${nodes.length - 1})`,
      ];
    }
    const size = config.memoryBlockPages ?? DEFAULT_MEMORY_BLOCK_PAGES;
    const blocks = Math.floor((nodes[a.node]?.pages ?? 0) / size);
    if ((a.block ?? 0) >= blocks) {
      return [
        `actors[${i}].block`,
        `is block ${a.block ?? 0}, but node ${a.node} has ${blocks} whole memory block${blocks === 1 ? '' : 's'} of ${size} pages (config.memoryBlockPages)`,
      ];
    }
    return null;
  }
  const areas = (config.cma ?? []).map((c, j) => ({
    name: c.name ?? (j === 0 ? 'reserved' : `cma${j}`),
    pages: c.pages,
  }));
  if (areas.length === 0) {
    return [`actors[${i}]`, 'a cma-alloc actor needs a CMA area: declare one in config.cma'];
  }
  const area = a.area === undefined ? areas[0] : areas.find((c) => c.name === a.area);
  if (area === undefined) {
    return [
      `actors[${i}].area`,
      `"${a.area}" is not an area of config.cma (${areas.map((c) => c.name).join(', ')})`,
    ];
  }
  if (a.count > area.pages) {
    return [
      `actors[${i}].count`,
      `is ${a.count}, but the area '${area.name}' has ${area.pages} pages`,
    ];
  }
  return null;
}

/** Builds the actor of an `offline-pages` or `cma-alloc` entry. */
export function hotplugCmaActor(k: Kernel, a: OfflinePagesActor | CmaAllocActor): Actor {
  if (a.type === 'offline-pages') {
    return offlinePagesActor(k, {
      cpu: a.cpu,
      node: a.node,
      ...(a.name === undefined ? {} : { name: a.name }),
      ...(a.block === undefined ? {} : { block: a.block }),
    });
  }
  return cmaAllocActor(k, {
    cpu: a.cpu,
    count: a.count,
    ...(a.name === undefined ? {} : { name: a.name }),
    ...(a.area === undefined ? {} : { area: a.area }),
    ...(a.align === undefined ? {} : { align: a.align }),
    ...(a.allocations === undefined ? {} : { allocations: a.allocations }),
    ...(a.release === undefined ? {} : { release: a.release }),
  });
}
