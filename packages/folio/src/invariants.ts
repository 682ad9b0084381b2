import { MmsimError } from '@mmsim/runtime';
import {
  chunkSummaries,
  nodeUsedAt,
  nothingStampedSince,
  walkRecord,
} from './invariants/chunk-summary.js';
import { reportPhysicalMemory } from './invariants/report.js';
import { physicalMemoryLooksSound } from './invariants/sound.js';
import {
  FRAME_BUDDY,
  FRAME_HEAD,
  FRAME_TAIL,
  folioError,
  type Memmap,
  memmapOf,
  type PhysicalMemory,
  WRITE_CHUNK_SHIFT,
} from './memmap.js';

/** Options of `checkPhysicalMemory`. */
export interface PhysicalMemoryCheckOptions {
  /**
   * Check again only the blocks and folios with a frame the package's writers changed
   * since the memory map was last found sound (by any check of it); the rest of the walk
   * (free lists, counters, pools, links) runs in full. It finds everything the full check
   * finds that was written through the package's functions; a write straight into the
   * arrays of `frameView` (a test's injected corruption) is seen only by a full check.
   * Default false: the full check.
   */
  readonly incremental?: boolean;
  /**
   * With `incremental`, on a machine no check has run on yet: take the memory map as
   * `createPhysicalMemory` built it (from a configuration frozen all through, as a kernel's)
   * for found sound, so that the first pass reads only what the package's writers changed
   * since the build. Every machine built from such a configuration is the same memory map
   * when handed out; a full check of one built from it stands for all. A write straight
   * into the arrays after the build is then seen only by a full check. Default false (the
   * first check of a machine reads everything).
   */
  readonly trustBuilt?: boolean;
}

/**
 * Checks every structural invariant of the memory model and returns the problems found
 * (empty when sound), the kind of thing CONFIG_DEBUG_VM and `bad_page` catch in the
 * kernel: see `reportPhysicalMemory` for the list and the kernel rules behind it. A sound
 * memory map costs one walk of each node (`physicalMemoryLooksSound`); only when that walk
 * finds something does the report walk it again, check by check, for the messages. With
 * `incremental`, that walk skips what was not written since the last sound check (or, with
 * `trustBuilt`, since the machine was built).
 */
export function checkPhysicalMemory(
  mem: PhysicalMemory,
  options: PhysicalMemoryCheckOptions = {},
): string[] {
  const m = memmapOf(mem);
  if (physicalMemoryLooksSound(m, options.incremental === true, options.trustBuilt === true)) {
    return [];
  }
  return reportPhysicalMemory(mem);
}

/** Runs `checkPhysicalMemory` and throws INVARIANT_VIOLATED listing the problems, if any. */
export function assertPhysicalMemory(mem: PhysicalMemory): void {
  const problems = checkPhysicalMemory(mem);
  if (problems.length > 0) {
    throw new MmsimError(
      'INVARIANT_VIOLATED',
      `physical memory is inconsistent:\n  ${problems.join('\n  ')}`,
    );
  }
}

/**
 * The base pages of the allocated folios on each node, into `used` (indexed by node id,
 * zeroed first): the folio walk of the scenarios' `frames-conserved` invariant, on the
 * memory map's arrays. Each node's pfns are walked in order; a folio head (FRAME_HEAD)
 * counts its pages on its own node and the walk jumps past it; every other frame (free,
 * pooled, offline, a tail) is stepped over one by one, as `pfnFolio` and `folioNrPages`
 * would see it. A tail that names itself as its head throws, as `folioNrPages` does on it.
 *
 * `incremental`: a free buddy block none of whose frames the package's writers changed
 * since the last sound memory-map check is jumped over (that check found its frames free,
 * so stepping would count nothing in it). When no writer stamped any chunk since that check
 * (the scenarios' `frames-conserved` runs right after `memmap-consistent` on the same step),
 * the pages it counted per node are taken without a walk. A write straight into the arrays
 * is seen only without it (the default).
 *
 * `afterFullCheck`: when the last pass of the memory-map check was a full one
 * (`checkPhysicalMemory` without `incremental`) that found the map sound and no writer
 * stamped a chunk since, the pages that pass counted per node are taken without a walk.
 * That pass read every frame (a raw write made before it is in its verdict) and, finding
 * the map sound, found each frame free, pooled, offline, or in the folio of a head on its
 * node, so its counts are this walk's. For a caller that runs it right after that check
 * with nothing written in between (the scenarios' end checks: `frames-conserved` after
 * `memmap-consistent`); a write straight into the arrays between the two is not seen.
 * Otherwise the walk runs as without it.
 */
export function folioPagesByNode(
  mem: PhysicalMemory,
  used: Float64Array,
  incremental = false,
  afterFullCheck = false,
): void {
  const m = memmapOf(mem);
  const state = m.state;
  const order = m.order;
  const nids = m.nid;
  const stamp = m.chunkEpoch;
  const since = incremental ? m.soundEpoch : 0;
  used.fill(0);
  if (afterFullCheck && m.walkRecord !== null) {
    const full = walkRecord(m).fullSound;
    // The last pass (no other moved the epoch on since) was full and sound.
    if (full !== 0 && full === m.writeEpoch && takeCounted(m, used, full)) return;
  }
  if (since !== 0 && takeCounted(m, used, since)) return;
  for (let nid = 0; nid < m.nrNodes; nid++) {
    const end = m.nodeEnd[nid]!;
    for (let pfn = m.nodeStart[nid]!; pfn < end; ) {
      const s = state[pfn];
      if (s === FRAME_BUDDY && since !== 0) {
        const nr = framesOfOrder(order[pfn]!, end - pfn);
        const last = Math.min(pfn + nr, end) - 1;
        let c = pfn >>> WRITE_CHUNK_SHIFT;
        while (c <= last >>> WRITE_CHUNK_SHIFT && stamp[c]! < since) c++;
        pfn = c > last >>> WRITE_CHUNK_SHIFT ? last + 1 : pfn + 1;
      } else if (s === FRAME_HEAD) {
        const nr = framesOfOrder(order[pfn]!, end - pfn);
        const at = nids[pfn]!;
        if (at < used.length) used[at] = used[at]! + nr;
        pfn += nr;
      } else if (s === FRAME_TAIL && m.headOf[pfn] === pfn) {
        throw folioError(m, pfn);
      } else pfn++;
    }
  }
}

/**
 * Into `used`: the pages in folios per node that the sound pass which moved the memory map
 * to epoch `sound` counted, when its counts are still the record's (no sound pass since)
 * and no writer stamped a chunk since it (the memory map is then what it walked). Returns
 * whether it took them.
 */
function takeCounted(m: Memmap, used: Float64Array, sound: number): boolean {
  const summaries = chunkSummaries(m);
  const at = nodeUsedAt(m);
  if (summaries[at] !== sound) return false;
  // Right after that pass (no pass since: the write epoch is still the one it began), the
  // writers' list of the chunks stamped since (`Memmap.dirtyChunks`) is empty when none
  // was: one read instead of every node chunk's stamp. Else (or for a stamped hole) the
  // stamps tell.
  const listedNone = m.writeEpoch === sound && m.dirtyChunks !== null && m.nrDirty === 0;
  if (!listedNone && !nothingStampedSince(m, sound)) return false;
  const nodes = Math.min(m.nrNodes, used.length);
  for (let nid = 0; nid < nodes; nid++) used[nid] = summaries[at + 1 + nid]!;
  return true;
}

/**
 * The frames of a block of `order`, or `rest` (the frames left in the node) for an order no
 * block can have, which only a raw write stores: a shift would wrap from order 31 on and walk
 * backwards. The report names the bad order.
 */
function framesOfOrder(order: number, rest: number): number {
  return order < 31 ? 1 << order : rest;
}
