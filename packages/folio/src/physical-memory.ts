import { MmsimError } from '@mmsim/runtime';
import { allocOnNode, freeOneBlock } from './buddy.js';
import { BufferRecycler } from './buffer-recycler.js';
import {
  HPAGE_PMD_NR,
  HPAGE_PMD_ORDER,
  LOCAL_DISTANCE,
  MAX_NODE_DISTANCE,
  MAX_NODE_PAGES,
  MAX_NUMNODES,
  MAX_ORDER,
  MAX_ORDER_NR_PAGES,
  MAX_TOTAL_PFNS,
} from './constants.js';
import { enqueueHugetlbFolio } from './hugetlb.js';
import {
  BUILT_EPOCH,
  checkFolio,
  checkNid,
  checkPfn,
  type Folio,
  FRAME_FREE,
  FRAME_HEAD,
  FRAME_HOLE,
  FRAME_TAIL,
  frameBufferBytes,
  frameFillByte,
  Memmap,
  memmapOf,
  type PhysicalMemory,
  publicView,
  takeMachineBuffer,
} from './memmap.js';
import { reserveZeroPage } from './zero-page.js';

/** One NUMA node of the simulated machine. */
export interface NodeConfig {
  /** Base pages (4 KiB frames) the node has, in [1, 2^24]. */
  readonly pages: number;
  /**
   * 2 MiB hugetlb pages to reserve from the node at creation (`hugepages=`), default 0.
   * Each takes 512 pages; node 0 also holds the zero page at its first pfn.
   */
  readonly hugetlbPages?: number;
  /**
   * Pages at the top of the node that form its ZONE_MOVABLE, default 0 (none): the
   * per-node share of `movablecore=` (`find_zone_movable_pfns_for_nodes`, mm/page_alloc.c,
   * 6.3), whose start, `zone_movable_pfn[nid]`, is rounded up to MAX_ORDER_NR_PAGES
   * (1024 pages), so the zone may come out smaller than asked, or empty. In [0, pages - 1]:
   * the rest is the node's ZONE_NORMAL (see zone.ts).
   */
  readonly movablePages?: number;
  /**
   * How much slower the node's memory is than local DRAM, as factors of the cost model
   * (default 1 each): `accessFactor` multiplies `userAccess` for a user access to a page of
   * the node, `copyFactor` multiplies `copyPage4k` for a page migrated to or from the node
   * (the larger of the two nodes' factors). A CPU-less CXL-like node has factors > 1.
   */
  readonly memory?: NodeMemoryCosts;
}

/** The cost factors of one node's memory (see `NodeConfig.memory`). */
export interface NodeMemoryCosts {
  readonly accessFactor?: number;
  readonly copyFactor?: number;
}

/** Largest cost factor of a node's memory. */
export const MAX_MEMORY_COST_FACTOR = 1000;

/** Configuration of `createPhysicalMemory`. */
export interface PhysicalMemoryConfig {
  /** The nodes, node id = index. 1 to 64 of them. */
  readonly nodes: ReadonlyArray<NodeConfig>;
  /**
   * The node distance table (the ACPI SLIT, `node_distance(a, b)` = `distances[a][b]`): one
   * row and one column per node, LOCAL_DISTANCE (10) on the diagonal, integers in
   * (10, 254] elsewhere, as `slit_valid` (drivers/acpi/numa/srat.c, 6.3) requires. Default:
   * 10 local, 20 remote. Orders each node's allocation fallback (nearest first).
   */
  readonly distances?: ReadonlyArray<ReadonlyArray<number>>;
}

/**
 * Checks a node distance table the way `slit_valid` (drivers/acpi/numa/srat.c, 6.3) checks
 * the ACPI SLIT: LOCAL_DISTANCE on the diagonal, more than LOCAL_DISTANCE elsewhere; the
 * model also wants an n x n table of integers no larger than 254 (255 is "unreachable").
 * Returns the first problem as a message, or null. The table need not be symmetric.
 */
export function checkNodeDistances(distances: unknown, nrNodes: number): string | null {
  if (
    !Array.isArray(distances) ||
    distances.length !== nrNodes ||
    distances.some((row) => !Array.isArray(row) || row.length !== nrNodes)
  ) {
    return `distances must be a ${nrNodes}x${nrNodes} table of numbers, one row and one column per node`;
  }
  for (let a = 0; a < nrNodes; a++) {
    for (let b = 0; b < nrNodes; b++) {
      const d: unknown = distances[a][b];
      const at = `distances[${a}][${b}]`;
      if (typeof d !== 'number' || !Number.isInteger(d)) {
        return `${at} must be an integer distance, got ${String(d)}`;
      }
      if (a === b && d !== LOCAL_DISTANCE) {
        return `${at} must be LOCAL_DISTANCE (${LOCAL_DISTANCE}): a node's distance to itself, got ${d}`;
      }
      if (a !== b && (d <= LOCAL_DISTANCE || d > MAX_NODE_DISTANCE)) {
        return `${at} must be an integer in [${LOCAL_DISTANCE + 1}, ${MAX_NODE_DISTANCE}] (farther than the node itself), got ${d}`;
      }
    }
  }
  return null;
}

/** Checks one node's `memory` cost factors; returns the first problem or null. */
function checkNodeMemory(memory: unknown, at: string): string | null {
  if (!isRecord(memory)) return `${at}.memory must be an object { accessFactor?, copyFactor? }`;
  for (const key of Object.keys(memory)) {
    if (key !== 'accessFactor' && key !== 'copyFactor') {
      return `${at}.memory.${key} is not a known field (known: accessFactor, copyFactor)`;
    }
    const f = memory[key];
    if (typeof f !== 'number' || !Number.isFinite(f) || f < 1 || f > MAX_MEMORY_COST_FACTOR) {
      return `${at}.memory.${key} must be a factor in [1, ${MAX_MEMORY_COST_FACTOR}], got ${String(f)}`;
    }
  }
  return null;
}

/** A snapshot of one node's counters. */
export interface NodeStats {
  readonly nid: number;
  readonly startPfn: number;
  readonly spannedPages: number;
  /** Free pages in the node's buddy allocator. */
  readonly freePages: number;
  /** `free_area[order].nr_free` for orders 0..MAX_ORDER-1. */
  readonly nrFree: readonly number[];
  readonly nrHugePages: number;
  readonly freeHugePages: number;
  /** `surplus_huge_pages_node`. */
  readonly surplusHugePages: number;
}

function configError(message: string): MmsimError {
  return new MmsimError('INVALID_CONFIG', message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates the whole config before anything is built. Returns pages and hugetlb pages. */
function validate(config: unknown): { pages: number[]; huge: number[]; movable: number[] } {
  if (!isRecord(config)) throw configError('config must be an object { nodes: [...] }');
  for (const key of Object.keys(config)) {
    if (key !== 'nodes' && key !== 'distances') {
      throw configError(`config.${key} is not a known field (known: nodes, distances)`);
    }
  }
  const nodes = config.nodes;
  if (!Array.isArray(nodes) || nodes.length < 1 || nodes.length > MAX_NUMNODES) {
    throw configError(
      `nodes must be an array of 1 to ${MAX_NUMNODES} nodes, got ${Array.isArray(nodes) ? `${nodes.length} nodes` : String(nodes)}`,
    );
  }
  const pages: number[] = [];
  const huge: number[] = [];
  const movable: number[] = [];
  let span = 0;
  nodes.forEach((node: unknown, i) => {
    const at = `nodes[${i}]`;
    if (!isRecord(node)) throw configError(`${at} must be an object { pages, hugetlbPages? }`);
    for (const key of Object.keys(node)) {
      if (key !== 'pages' && key !== 'hugetlbPages' && key !== 'movablePages' && key !== 'memory') {
        throw configError(
          `${at}.${key} is not a known field (known: pages, hugetlbPages, movablePages, memory)`,
        );
      }
    }
    if (node.memory !== undefined) {
      const problem = checkNodeMemory(node.memory, at);
      if (problem !== null) throw configError(problem);
    }
    const p = node.pages;
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > MAX_NODE_PAGES) {
      throw configError(
        `${at}.pages must be an integer in [1, ${MAX_NODE_PAGES}], got ${String(p)}`,
      );
    }
    const h = node.hugetlbPages ?? 0;
    const chunks = Math.floor(p / HPAGE_PMD_NR) - (i === 0 && p >= HPAGE_PMD_NR ? 1 : 0);
    if (typeof h !== 'number' || !Number.isInteger(h) || h < 0 || h > chunks) {
      throw configError(
        `${at}.hugetlbPages must be an integer in [0, ${chunks}], got ${String(h)} (each takes ${HPAGE_PMD_NR} aligned pages of the node's ${p}${i === 0 ? ', and node 0 holds the zero page' : ''})`,
      );
    }
    span = Math.ceil((span + p) / MAX_ORDER_NR_PAGES) * MAX_ORDER_NR_PAGES;
    if (span > MAX_TOTAL_PFNS) {
      throw configError(
        `nodes: the pfn span reaches ${span} frames at ${at}, more than the model's limit of ${MAX_TOTAL_PFNS}`,
      );
    }
    const mv = node.movablePages ?? 0;
    if (typeof mv !== 'number' || !Number.isInteger(mv) || mv < 0 || mv > p - 1) {
      throw configError(
        `${at}.movablePages must be an integer in [0, ${p - 1}] (the node keeps at least one ZONE_NORMAL page), got ${String(mv)}`,
      );
    }
    pages.push(p);
    huge.push(h);
    movable.push(mv);
  });
  return { pages, huge, movable };
}

/** A checked configuration's per-node sizes and the node spans they give. */
interface MemoryLayout {
  readonly pages: readonly number[];
  readonly huge: readonly number[];
  readonly movable: readonly number[];
  readonly starts: readonly number[];
  readonly ends: readonly number[];
}

/** The layouts of configurations frozen all through, by configuration (checked once). */
const frozenLayouts = new WeakMap<object, MemoryLayout>();

/**
 * Checks `config` (INVALID_CONFIG naming the field) and lays its nodes out: each node starts
 * at a MAX_ORDER boundary. A configuration frozen all through (nodes, their memory, the
 * distance table: a kernel's, built once for its resolved configuration) cannot change, so
 * its layout is kept and not checked again (an explorer builds a machine per schedule).
 */
function layoutOf(config: PhysicalMemoryConfig): MemoryLayout {
  const known = frozenLayouts.get(config);
  if (known !== undefined) return known;
  const { pages, huge, movable } = validate(config);
  const starts: number[] = [];
  const ends: number[] = [];
  let next = 0;
  for (const p of pages) {
    starts.push(next);
    ends.push(next + p);
    next = Math.ceil((next + p) / MAX_ORDER_NR_PAGES) * MAX_ORDER_NR_PAGES;
  }
  if (config.distances !== undefined) {
    const problem = checkNodeDistances(config.distances, pages.length);
    if (problem !== null) throw configError(problem);
  }
  const layout: MemoryLayout = { pages, huge, movable, starts, ends };
  if (frozenThrough(config)) frozenLayouts.set(config, layout);
  return layout;
}

/** `config`, its nodes, their memory and its distance table are all frozen. */
function frozenThrough(config: PhysicalMemoryConfig): boolean {
  if (!Object.isFrozen(config) || !Object.isFrozen(config.nodes)) return false;
  for (const node of config.nodes) {
    if (!Object.isFrozen(node)) return false;
    if (node.memory !== undefined && !Object.isFrozen(node.memory)) return false;
  }
  const d = config.distances;
  return d === undefined || (Object.isFrozen(d) && d.every((row) => Object.isFrozen(row)));
}

/**
 * Builds the physical memory of a machine: node i owns a contiguous pfn range of
 * `nodes[i].pages` frames, starting at a multiple of MAX_ORDER_NR_PAGES (the frames between
 * one node's end and the next aligned start are holes). The zero page is reserved at pfn 0
 * on node 0; every other frame is handed to its node's buddy allocator in the largest
 * aligned blocks that fit, as `memblock_free_all` does at boot (with FPI_TO_TAIL), and then
 * each node's hugetlb pool is filled from its own buddy. Throws INVALID_CONFIG naming the
 * field to fix. With a `recycler`, the per-frame arrays come from it and go back to it with
 * `releasePhysicalMemory` (an explorer's machines, one per schedule); the machine is the
 * same as without.
 */
export function createPhysicalMemory(
  config: PhysicalMemoryConfig,
  recycler: BufferRecycler | null = null,
): PhysicalMemory {
  if (recycler !== null && !(recycler instanceof BufferRecycler)) {
    throw configError('createPhysicalMemory: recycler must be a BufferRecycler or null');
  }
  const layout = layoutOf(config);
  const { pages, huge, movable, starts, ends } = layout;
  const maxPfn = ends[ends.length - 1]!;
  // A frames buffer a machine of this layout gave back as the constructor leaves it.
  const plan = recycler === null ? null : knownPlan(maxPfn, starts, ends);
  const asBuilt =
    plan === null ? null : (recycler!.takeAsLeft(frameBufferBytes(maxPfn), plan) ?? null);
  const m = new Memmap(starts.slice(), ends.slice(), maxPfn, config.distances, recycler, asBuilt);
  config.nodes.forEach((node, nid) => {
    m.accessFactor[nid] = node.memory?.accessFactor ?? 1;
    m.copyFactor[nid] = node.memory?.copyFactor ?? 1;
  });
  for (let nid = 0; nid < pages.length; nid++) {
    m.nid.fill(nid, starts[nid]!, ends[nid]!);
    m.state.fill(FRAME_FREE, starts[nid]!, ends[nid]!);
  }
  reserveZeroPage(m, starts[0]!);
  if (movable.some((mv) => mv > 0)) {
    m.zoneMovablePfn = Int32Array.from(ends, (end, nid) =>
      Math.min(end, Math.ceil((end - movable[nid]!) / MAX_ORDER_NR_PAGES) * MAX_ORDER_NR_PAGES),
    );
  }
  for (let nid = 0; nid < pages.length; nid++) {
    const end = ends[nid]!;
    let pfn = nid === 0 ? starts[0]! + 1 : starts[nid]!;
    while (pfn < end) {
      let order = pfn === 0 ? MAX_ORDER - 1 : Math.min(MAX_ORDER - 1, 31 - Math.clz32(pfn & -pfn));
      while (pfn + (1 << order) > end) order--;
      freeOneBlock(m, pfn, order, true);
      pfn += 1 << order;
    }
  }
  for (let nid = 0; nid < pages.length; nid++) {
    for (let k = 0; k < huge[nid]!; k++) {
      const folio = allocOnNode(m, HPAGE_PMD_ORDER, nid);
      if (folio < 0)
        throw new MmsimError('INVARIANT_VIOLATED', `hugetlb reservation failed on node ${nid}`);
      m.nrHugePages[nid]!++;
      enqueueHugetlbFolio(m, folio);
    }
  }
  // The build stamped its chunks with epoch 1; writers from now on stamp a later one. A
  // configuration frozen all through builds the same memory map every time: the check may
  // take it as found sound (`trustBuilt`, invariants/built-clean.ts).
  m.writeEpoch = BUILT_EPOCH;
  if (frozenLayouts.get(config) === layout) m.builtFrom = config;
  return publicView(m);
}

/** `pfn_valid`: `pfn` is a frame of some node (not out of range, not in a hole). */
export function pfnValid(mem: PhysicalMemory, pfn: number): boolean {
  const m = memmapOf(mem);
  return Number.isInteger(pfn) && pfn >= 0 && pfn < m.maxPfn && m.state[pfn] !== FRAME_HOLE;
}

/**
 * `page_folio(pfn_to_page(pfn))`: the head pfn of the folio containing `pfn`, or -1 when
 * the frame is free (in the buddy or in a hugetlb pool). Throws INVALID_ARGUMENT for a pfn
 * that is not valid.
 */
export function pfnFolio(mem: PhysicalMemory, pfn: number): Folio {
  const m = memmapOf(mem);
  const s = m.state[pfn];
  if (s === FRAME_HEAD) return pfn;
  if (s === FRAME_TAIL) return m.headOf[pfn]!;
  checkPfn(m, pfn);
  return -1;
}

/** `pfn_to_nid`: the node a frame belongs to. */
export function pfnToNid(mem: PhysicalMemory, pfn: number): number {
  const m = memmapOf(mem);
  checkPfn(m, pfn);
  return m.nid[pfn]!;
}

/** `node_distance(a, b)`: the distance table's entry (10 local, 20 remote by default). */
export function nodeDistance(mem: PhysicalMemory, a: number, b: number): number {
  const m = memmapOf(mem);
  checkNid(m, a);
  checkNid(m, b);
  return m.distance[a * m.nrNodes + b]!;
}

/** The whole distance table, one row per node (a copy). */
export function nodeDistances(mem: PhysicalMemory): number[][] {
  const m = memmapOf(mem);
  const n = m.nrNodes;
  return Array.from({ length: n }, (_, a) => Array.from(m.distance.subarray(a * n, a * n + n)));
}

/**
 * The allocation fallback order of node `nid` (its zonelist, `build_zonelists`): the node
 * itself, then the others nearest first by the distance table; on equal distance the node
 * whose id is nearer, then the lower id. A copy.
 */
export function nodeFallbackOrder(mem: PhysicalMemory, nid: number): number[] {
  const m = memmapOf(mem);
  checkNid(m, nid);
  return Array.from(m.fallback[nid]!);
}

/** The cost factors of node `nid`'s memory (`NodeConfig.memory`, defaults filled in). */
export function nodeMemoryCosts(
  mem: PhysicalMemory,
  nid: number,
): { accessFactor: number; copyFactor: number } {
  const m = memmapOf(mem);
  checkNid(m, nid);
  return { accessFactor: m.accessFactor[nid]!, copyFactor: m.copyFactor[nid]! };
}

/**
 * The `copyPage4k` factor of copying a page from `src` to `dst`: the larger of the two
 * frames' nodes' copy factors (1 between DRAM nodes). No checks: a hot-path helper.
 */
export function pageCopyFactor(mem: PhysicalMemory, dst: number, src: number): number {
  const m = memmapOf(mem);
  const f = m.copyFactor;
  const a = f[m.nid[dst]!]!;
  const b = f[m.nid[src]!]!;
  return Math.max(a, b);
}

/** The `userAccess` factor of a user access to frame `pfn` (its node's). No checks. */
export function pageAccessFactor(mem: PhysicalMemory, pfn: number): number {
  const m = memmapOf(mem);
  return m.accessFactor[m.nid[pfn]!]!;
}

/** `folio_nid`: the node a folio's frames belong to. */
export function folioNid(mem: PhysicalMemory, folio: Folio): number {
  const m = memmapOf(mem);
  checkFolio(m, folio);
  return m.nid[folio]!;
}

/** `node_start_pfn`. */
export function nodeStartPfn(mem: PhysicalMemory, nid: number): number {
  const m = memmapOf(mem);
  checkNid(m, nid);
  return m.nodeStart[nid]!;
}

/** `node_spanned_pages`: the frames of the node (the zero page and hugetlb pages included). */
export function nodeSpannedPages(mem: PhysicalMemory, nid: number): number {
  const m = memmapOf(mem);
  checkNid(m, nid);
  return m.nodeEnd[nid]! - m.nodeStart[nid]!;
}

/** A snapshot of node `nid`'s counters. */
export function nodeStats(mem: PhysicalMemory, nid: number): NodeStats {
  const m = memmapOf(mem);
  checkNid(m, nid);
  return {
    nid,
    startPfn: m.nodeStart[nid]!,
    spannedPages: m.nodeEnd[nid]! - m.nodeStart[nid]!,
    freePages: m.nodeFree[nid]!,
    nrFree: Array.from(m.nrFree.subarray(nid * MAX_ORDER, (nid + 1) * MAX_ORDER)),
    nrHugePages: m.nrHugePages[nid]!,
    freeHugePages: m.freeHugePages[nid]!,
    surplusHugePages: m.surplusHugePages[nid]!,
  };
}

/**
 * A zeroed `Int32Array` with one slot per pfn of `mem` (`maxPfn` slots), for a per-frame
 * table another part of the same machine keeps (page-lock owners, say): from the machine's
 * recycler when it was built with one, so that it goes back with `releasePhysicalMemory`.
 */
export function frameArrayI32(mem: PhysicalMemory): Int32Array {
  const m = memmapOf(mem);
  return new Int32Array(takeMachineBuffer(m, 4 * m.maxPfn));
}

/** `frameArrayI32` for a `Uint8Array` (one byte per pfn). */
export function frameArrayU8(mem: PhysicalMemory): Uint8Array {
  const m = memmapOf(mem);
  return new Uint8Array(takeMachineBuffer(m, m.maxPfn));
}

/**
 * A zeroed buffer of `bytes` bytes for a small per-machine table another part of the same
 * machine keeps (its vmstat counters, say): from the machine's recycler when it was built
 * with one, so that it goes back with `releasePhysicalMemory`, else a new one. An
 * explorer builds a machine per schedule, and a typed array of more than 64 bytes made
 * with a buffer of its own costs a backing store outside the heap each time.
 */
export function machineBuffer(mem: PhysicalMemory, bytes: number): ArrayBuffer {
  if (!Number.isInteger(bytes) || bytes < 0) {
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `machineBuffer: bytes must be a non-negative integer, got ${String(bytes)}`,
    );
  }
  const m = memmapOf(mem);
  // A stand-in memory (a test's fake) has no recycler: a buffer of its own.
  if (!(m instanceof Memmap)) return new ArrayBuffer(bytes);
  return takeMachineBuffer(m, bytes);
}

/**
 * Hands the per-frame buffers of a machine built with a recycler back to it, for the next
 * machine (an explorer's next schedule); the machine, and everything built on it, must not
 * be used afterwards. A machine built without a recycler is left as it is. Releasing twice
 * does nothing.
 */
export function releasePhysicalMemory(mem: PhysicalMemory): void {
  const m = memmapOf(mem);
  const recycled = m.recycled;
  if (m.recycler === null || recycled === null || m.released) return;
  m.released = true;
  // The per-frame arrays' shared buffer goes back in the state the memory map's constructor
  // leaves it, restored where the machine could have written it (its nodes' frames), and
  // the next machine of the layout takes it as it is, without the constructor's fills: the
  // frames of the holes between nodes are never written after the constructor, and a small
  // two-node machine is mostly hole (rfc-lock-order's: 960 of its 1088 frames).
  const frames = m.index.buffer;
  const at = frames === m.content.buffer ? recycled.indexOf(frames as ArrayBuffer) : -1;
  const plan = at < 0 ? null : frameBufferPlan(m, frames as ArrayBuffer);
  if (plan !== null) {
    const bytes = new Uint8Array(frames);
    const ranges = plan.ranges;
    for (let i = 0; i < ranges.length; i += 3)
      bytes.fill(ranges[i + 2]!, ranges[i]!, ranges[i + 1]!);
    recycled[at] = recycled[recycled.length - 1]!;
    recycled.pop();
    m.recycler.giveBackAsLeft(frames as ArrayBuffer, plan);
  }
  m.recycler.giveBack(recycled);
  recycled.length = 0;
}

/**
 * How a memory map's shared frames buffer is put back in the state its constructor leaves
 * it, for one layout of its nodes (`frameBufferPlan`): every view's frames of every node
 * set to the byte the constructor fills the view with (`frameFillByte`). The plan is also
 * the owner the buffers go back to (`BufferRecycler.giveBackAsLeft`): a machine of another
 * layout would find other frames in its holes.
 */
interface FrameBufferPlan {
  readonly maxPfn: number;
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  /** Byte ranges and their byte as [start, end, byte) triples, merged where they touch. */
  readonly ranges: readonly number[];
}

/** The plans made so far (an explorer's machines share a few layouts). */
const frameBufferPlans: FrameBufferPlan[] = [];

function sameNumbers(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The plan made for the layout of `maxPfn` frames and these node spans, or null. */
function knownPlan(
  maxPfn: number,
  starts: readonly number[],
  ends: readonly number[],
): FrameBufferPlan | null {
  for (const plan of frameBufferPlans) {
    if (
      plan.maxPfn === maxPfn &&
      sameNumbers(plan.starts, starts) &&
      sameNumbers(plan.ends, ends)
    ) {
      return plan;
    }
  }
  return null;
}

/**
 * The plan of `m`'s layout for `buffer`, the shared buffer of its per-frame arrays; null when
 * the arrays do not tile the buffer as expected, or a hole does not hold what the
 * constructor put there (then the buffer goes back to be zeroed whole). Made on the first
 * release of a layout from the memory map's own views (whatever per-frame arrays it has),
 * then reused: a hole frame is never written after the constructor (no allocation, mapping
 * or access reaches a pfn outside the nodes), so what a view holds there is what the
 * constructor put, the same for every machine of the layout. The tests take every such
 * buffer back with `BufferRecycler({ checkZeroed: true })`, which checks it
 * (packages/scenarios/test/recycled-frames.test.ts).
 */
function frameBufferPlan(m: Memmap, buffer: ArrayBuffer): FrameBufferPlan | null {
  const known = knownPlan(m.maxPfn, m.nodeStart, m.nodeEnd);
  if (known !== null) return known;
  const n = m.maxPfn;
  const views: ArrayBufferView[] = [];
  for (const value of Object.values(m)) {
    if (ArrayBuffer.isView(value) && value.buffer === buffer && !views.includes(value)) {
      views.push(value);
    }
  }
  views.sort((a, b) => a.byteOffset - b.byteOffset);
  const ranges: number[] = [];
  const add = (start: number, end: number, byte: number): void => {
    if (end <= start) return;
    const last = ranges.length - 3;
    if (last >= 0 && ranges[last + 1] === start && ranges[last + 2] === byte) {
      ranges[last + 1] = end;
    } else ranges.push(start, end, byte);
  };
  let offset = 0;
  for (const view of views) {
    const width = view.byteLength / n;
    if (view.byteOffset !== offset || !Number.isInteger(width)) return null;
    const bytes = new Uint8Array(buffer, offset, view.byteLength);
    const fill = frameFillByte(m, view);
    for (let nid = 0; nid <= m.nrNodes; nid++) {
      const from = nid === 0 ? 0 : m.nodeEnd[nid - 1]!;
      const to = nid === m.nrNodes ? n : m.nodeStart[nid]!;
      for (let b = from * width; b < to * width; b++) if (bytes[b] !== fill) return null;
    }
    for (let nid = 0; nid < m.nrNodes; nid++) {
      add(offset + m.nodeStart[nid]! * width, offset + m.nodeEnd[nid]! * width, fill);
    }
    offset += view.byteLength;
  }
  if (offset !== buffer.byteLength) return null;
  if (frameBufferPlans.length >= 8) frameBufferPlans.shift();
  const plan: FrameBufferPlan = {
    maxPfn: n,
    starts: m.nodeStart.slice(),
    ends: m.nodeEnd.slice(),
    ranges,
  };
  frameBufferPlans.push(plan);
  return plan;
}

/**
 * What another package keeps for this machine under `key` (`setMemoryAttachment`), or
 * undefined. For per-machine side tables: kept on the memory itself, where a module-level
 * WeakMap keyed by the memory would keep every machine an explorer builds alive through
 * the young-generation collections (a WeakMap entry holds its key and value there).
 */
export function memoryAttachment<T>(mem: PhysicalMemory, key: object): T | undefined {
  const table = memmapOf(mem).attachments;
  return table === null ? undefined : (table.get(key) as T | undefined);
}

/** Keeps `value` for this machine under `key` (see `memoryAttachment`). */
export function setMemoryAttachment(mem: PhysicalMemory, key: object, value: unknown): void {
  const m = memmapOf(mem);
  if (m.attachments === null) m.attachments = new Map();
  m.attachments.set(key, value);
}
