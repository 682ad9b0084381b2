import { buddiesMustMerge } from '../buddy.js';
import { HPAGE_PMD_NR, HPAGE_PMD_ORDER, MAX_ORDER } from '../constants.js';
import { PG_head, PG_hwpoison, PG_reserved } from '../flags.js';
import {
  FOLIO_TYPE_HUGETLB,
  FRAME_BUDDY,
  FRAME_FREE,
  FRAME_HEAD,
  FRAME_HOLE,
  FRAME_OFFLINE,
  FRAME_POOL_HEAD,
  FRAME_POOL_TAIL,
  FRAME_TAIL,
  FREE_KIND_CMA,
  FREE_KIND_ISOLATE,
  FREE_KIND_NORMAL,
  FREE_KINDS,
  type Memmap,
  WRITE_CHUNK_SHIFT,
} from '../memmap.js';
import { PAGEBLOCK_NR_PAGES, PAGEBLOCK_ORDER } from '../pageblock.js';
import {
  CHUNK_FRAMES,
  CHUNK_SUMMARY_WORDS,
  chunkSummaries,
  nodeUsedAt,
  SUMMARY_AT,
  SUMMARY_FREE,
  SUMMARY_KIND,
  SUMMARY_LIST0,
  SUMMARY_LISTS,
  summaryHolds,
} from './chunk-summary.js';

/**
 * The fast form of `checkPhysicalMemory`: whether the memory map passes every check of
 * `reportPhysicalMemory`, in one walk of each node instead of one per check, with no
 * message, no allocation and a stop at the first doubt. It never answers true where the
 * report would list a problem (the rules are the same, see `reportPhysicalMemory` for
 * the kernel's): a false answer only sends the caller to the report, which says what is
 * wrong (or that nothing is, in the rare states where this walk is stricter, such as two
 * ids naming one folio list).
 *
 * One walk per node, block by block: a free buddy block is checked frame by frame (free,
 * clean, not temporary) and against the pageblocks it covers; a folio (or pooled hugetlb
 * folio) by its head (order, PG_head, counts, pool and folio-list links) and its tails
 * (state, head, no list, mapcounts); an offline frame with its pageblock. The hugetlb
 * pool counters and HPageTemporary, the folio lists' sizes and the free lists are
 * checked from what the walk counted.
 *
 * `incremental`: the frames of a folio none of whose 16-frame chunks the package's
 * writers stamped (`markWritten`) since the last pass that found the map sound are not
 * read again: they are what that pass found sound (a frame read as a block's first is one
 * there too, as the frames inside a block were found free or tails). Of a free buddy
 * block, only the frames in stamped chunks are read (`freeFramesLookClean`). What
 * depends on other frames or on the lists stays: the walk from block to block with each
 * head's node, alignment and counts, the buddy-merge and pageblock tests, the folio-list
 * links, the offline frames, the free lists, pools and counters, the zero page. Every pass
 * moves the write epoch on; one that finds the map sound, full or not, moves the sound
 * epoch to it. A write straight into the arrays bypasses the stamps: only a full pass (the
 * default) sees it.
 *
 * A 16-frame chunk of whole blocks (free blocks below 16 frames, folios that are not
 * hugetlb, no offline frame) that no writer stamped is not walked at all: its summary,
 * recorded by the pass that last walked it (`chunk-summary.ts`), gives its free pages and
 * the folios it has on each folio list, and its free blocks' kind is compared with its
 * pageblock's. What it skips besides the frames: the walk inside the chunk, each head's
 * node and alignment (written with the frames), the buddy-merge test (the buddy of a block
 * below 16 frames is in the same chunk) and the folio-list links of its folios (the lists
 * stamp the frames whose links they write, so a link of the chunk is as it was; a
 * neighbour taken off a list or freed behind it leaves the list's count short, which the
 * count test finds).
 *
 * The holes between nodes (FRAME_HOLE, on no list) are read again only in the chunks a
 * writer stamped since the last sound pass; an incremental pass before any sound one skips
 * the chunks no writer ever stamped (stamp 0: they hold what the memory map was built with,
 * holes). A pass that finds the map sound also records each node's pages in folios
 * (`nodeUsedAt`), which `folioPagesByNode` takes while no writer stamps a chunk.
 */
export function physicalMemoryLooksSound(m: Memmap, incremental = false): boolean {
  const epoch = m.writeEpoch;
  const since = incremental ? m.soundEpoch : 0;
  // Writes after this pass are stamped newer than what it reads, whatever it finds (the
  // chunk summaries it records are dated by the new epoch).
  m.writeEpoch = epoch + 1;
  const summaries = chunkSummaries(m);
  if (!framesLookSound(m, since, incremental ? Math.max(since, 1) : 0, epoch + 1, summaries)) {
    return false;
  }
  // Sound: what was written before this pass is as it saw it.
  m.soundEpoch = epoch + 1;
  const at = nodeUsedAt(m);
  summaries[at] = epoch + 1;
  for (let nid = 0; nid < m.nrNodes; nid++) summaries[at + 1 + nid] = nodeUsed[nid]!;
  return true;
}

/**
 * `physicalMemoryLooksSound` of the frames, skipping the blocks of chunks older than `since`
 * and the holes of chunks older than `holeSince`.
 */
function framesLookSound(
  m: Memmap,
  since: number,
  holeSince: number,
  epoch: number,
  summaries: Int32Array,
): boolean {
  const nrLists = m.lists.length;
  const counts = listCounts(nrLists);
  if (nodeUsed.length < m.nrNodes) nodeUsed = new Int32Array(m.nrNodes);
  for (let nid = 0; nid < m.nrNodes; nid++) {
    if (!nodeLooksSound(m, nid, counts, since, holeSince, epoch, summaries)) return false;
  }
  for (let id = 1; id < nrLists; id++) {
    const c = counts[id]!;
    if (c === 0) continue;
    // `has` holds only for the id the list itself holds: no second id names the same list
    // (the report counts by list, this walk by id).
    const list = m.lists[id];
    if (list === null || list === undefined || list.size !== c || !list.has(list.first())) {
      return false;
    }
  }
  if (!freeListsLookSound(m)) return false;
  let free = 0;
  for (let nid = 0; nid < m.freeHugePages.length; nid++) free += m.freeHugePages[nid]!;
  if (m.resvHugePages < 0 || m.resvHugePages > free) return false;
  const z = m.zeroPfn;
  if (m.state[z] !== FRAME_HEAD || m.order[z] !== 0 || (m.flags[z]! & (1 << PG_reserved)) === 0) {
    return false;
  }
  return m.content[z] === 0 && m.nid[z] === 0 && m.refcount[z]! >= 1;
}

/** The pages in folios each node walk counted, recorded when the whole pass is sound. */
let nodeUsed = new Int32Array(8);

/** Folios counted per folio-list id, reused from one check to the next (zeroed on each). */
let scratchCounts = new Int32Array(64);

function listCounts(nrLists: number): Int32Array {
  if (scratchCounts.length < nrLists) {
    scratchCounts = new Int32Array(Math.max(nrLists, scratchCounts.length * 2));
  }
  scratchCounts.fill(0, 0, nrLists);
  return scratchCounts;
}

/**
 * Whether no frame of [pfn, pfn + n) was written since epoch `since` (0: never true): the
 * chunks covering them are all stamped before it.
 */
function unchanged(stamp: Uint32Array, since: number, pfn: number, n: number): boolean {
  if (since === 0) return false;
  const last = (pfn + n - 1) >>> WRITE_CHUNK_SHIFT;
  for (let c = pfn >>> WRITE_CHUNK_SHIFT; c <= last; c++) if (stamp[c]! >= since) return false;
  return true;
}

function nodeLooksSound(
  m: Memmap,
  nid: number,
  counts: Int32Array,
  since: number,
  holeSince: number,
  epoch: number,
  summaries: Int32Array,
): boolean {
  const state = m.state;
  const order = m.order;
  const flags = m.flags;
  const refcount = m.refcount;
  const mapcount = m.mapcount;
  const listId = m.listId;
  const headOf = m.headOf;
  const freeKind = m.freeKind;
  const kinds = m.pbKind;
  const temp = m.hugeTemporary;
  const nids = m.nid;
  const stamp = m.chunkEpoch;
  const start = m.nodeStart[nid]!;
  const end = m.nodeEnd[nid]!;
  let free = 0;
  let offline = 0;
  let inUse = 0;
  let pooled = 0;
  let checkedBlock = -1;
  // The chunk being summarised (-1: none): the walk entered it at its first frame and has
  // met only what a summary can hold; its free pages and lists so far.
  let rec = -1;
  let recFree = 0;
  let recKind = 0;
  let recLists = 0;
  let pfn = start;
  while (pfn < end) {
    if ((pfn & (CHUNK_FRAMES - 1)) === 0) {
      if (rec >= 0) {
        // The walk left the chunk at its end: record what it found there.
        recordSummary(summaries, rec, epoch, free - recFree, recKind, recLists);
        rec = -1;
      }
      if (pfn + CHUNK_FRAMES <= end) {
        const c = pfn >>> WRITE_CHUNK_SHIFT;
        if (summaryHolds(m, summaries, c, since)) {
          const at = c * CHUNK_SUMMARY_WORDS;
          const kind = summaries[at + SUMMARY_KIND]!;
          if (kind !== 0) {
            const want = kinds === null ? FREE_KIND_NORMAL : kinds[pfn >> PAGEBLOCK_ORDER]!;
            if (kind !== want + 1) return false;
          }
          free += summaries[at + SUMMARY_FREE]!;
          for (let i = 0; i < SUMMARY_LISTS; i++) {
            const id = summaries[at + SUMMARY_LIST0 + 2 * i]!;
            if (id === 0) break;
            if ((m.lists[id] ?? null) === null) return false;
            counts[id]! += summaries[at + SUMMARY_LIST0 + 2 * i + 1]!;
          }
          pfn += CHUNK_FRAMES;
          continue;
        }
        rec = c;
        recFree = free;
        recKind = 0;
        recLists = 0;
      }
    }
    const s = state[pfn]!;
    if (nids[pfn] !== nid) return false;
    if (s === FRAME_BUDDY) {
      const o = order[pfn]!;
      const n = 1 << o;
      if (o >= MAX_ORDER || pfn % n !== 0 || pfn + n > end) return false;
      const last = pfn + n;
      // The frames of the block in the chunks written since the last sound pass (all of
      // them on a full pass): the others are as that pass found them, clean and free (see
      // `freeFramesLookClean`).
      if (!freeFramesLookClean(m, pfn, last, since)) return false;
      const kind = freeKind[pfn]!;
      const buddy = pfn ^ n;
      if (
        pfn < buddy &&
        o < MAX_ORDER - 1 &&
        state[buddy] === FRAME_BUDDY &&
        order[buddy] === o &&
        freeKind[buddy] === kind &&
        buddiesMustMerge(o, kind)
      ) {
        return false;
      }
      for (let p = pfn; p < last; p += PAGEBLOCK_NR_PAGES) {
        const want = kinds === null ? FREE_KIND_NORMAL : kinds[p >> PAGEBLOCK_ORDER]!;
        if (kind !== want) return false;
      }
      if (rec >= 0) {
        if (o >= WRITE_CHUNK_SHIFT) rec = -1;
        else recKind = kind + 1;
      }
      free += n;
      pfn = last;
    } else if (s === FRAME_HEAD || s === FRAME_POOL_HEAD) {
      const o = order[pfn]!;
      const n = 1 << o;
      const pool = s === FRAME_POOL_HEAD;
      if (pfn % n !== 0 || pfn + n > end || headOf[pfn] !== pfn) return false;
      if (unchanged(stamp, since, pfn, n)) {
        // No frame of the folio written since the last sound pass: only what its neighbours
        // and the counts depend on (the list links, the pool and in-use counts).
        if (pool) pooled++;
        else if (m.folioType[pfn] === FOLIO_TYPE_HUGETLB) inUse++;
        const id = listId[pfn]!;
        if (id !== 0 && (pool || !folioLinksLookSound(m, pfn, id, counts))) return false;
        if (rec >= 0) {
          recLists = summarised(
            rec,
            pfn,
            n,
            id,
            pool || m.folioType[pfn] === FOLIO_TYPE_HUGETLB,
            recLists,
          );
          if (recLists < 0) rec = -1;
        }
        pfn += n;
        continue;
      }
      if (((flags[pfn]! & (1 << PG_head)) !== 0) !== o > 0) return false;
      if (refcount[pfn]! < 0 || m.entireMapcount[pfn]! < 0) return false;
      const hugetlb = m.folioType[pfn] === FOLIO_TYPE_HUGETLB;
      if (pool) {
        if (refcount[pfn] !== 0 || !hugetlb || o !== HPAGE_PMD_ORDER) return false;
        pooled++;
      } else if (hugetlb) inUse++;
      if (temp !== null && temp[pfn] === 1 && (pool || !hugetlb)) return false;
      const id = listId[pfn]!;
      if (id !== 0 && (pool || !folioLinksLookSound(m, pfn, id, counts))) return false;
      const tailState = pool ? FRAME_POOL_TAIL : FRAME_TAIL;
      let c = mapcount[pfn]!;
      let sum = c;
      let negative = c < 0;
      const last = pfn + n;
      for (let p = pfn + 1; p < last; p++) {
        if (state[p] !== tailState || headOf[p] !== pfn || listId[p] !== 0) return false;
        c = mapcount[p]!;
        if (c < 0) negative = true;
        sum += c;
      }
      if (negative || sum !== m.totalMapcount[pfn]) return false;
      if (pool && sum + m.entireMapcount[pfn]! !== 0) return false;
      if (temp !== null) for (let p = pfn + 1; p < last; p++) if (temp[p] === 1) return false;
      if (rec >= 0) {
        recLists = summarised(rec, pfn, n, id, pool || hugetlb, recLists);
        if (recLists < 0) rec = -1;
      }
      pfn = last;
    } else if (s === FRAME_OFFLINE) {
      rec = -1;
      if (listId[pfn] !== 0 || (temp !== null && temp[pfn] === 1)) return false;
      const block = pfn >> PAGEBLOCK_ORDER;
      if (block !== checkedBlock) {
        if (kinds === null || kinds[block] !== FREE_KIND_ISOLATE) return false;
        const first = block << PAGEBLOCK_ORDER;
        const stop = Math.min(first + PAGEBLOCK_NR_PAGES, end);
        for (let p = first; p < stop; p++) {
          const t = state[p];
          if (t === FRAME_OFFLINE) continue;
          if (t === FRAME_HEAD && (flags[p]! & (1 << PG_hwpoison)) !== 0) continue;
          return false;
        }
        checkedBlock = block;
      }
      offline++;
      pfn++;
    } else {
      // A tail no head owns, a free frame in no block, a hole inside the node, or junk.
      return false;
    }
  }
  // The node ends with the chunk: record it (as at the top of the loop).
  if (rec >= 0) recordSummary(summaries, rec, epoch, free - recFree, recKind, recLists);
  if (free !== m.nodeFree[nid]! + m.nodeFreeIsolated[nid]!) return false;
  if (offline !== m.nodeOffline[nid]) return false;
  const gapEnd = nid + 1 < m.nrNodes ? m.nodeStart[nid + 1]! : m.maxPfn;
  if (!holesLookSound(m, end, gapEnd, holeSince)) return false;
  // The walk went block by block through the node: what is not free, offline or pooled
  // (each pooled folio of HPAGE_PMD_ORDER) is in folios.
  nodeUsed[nid] = end - start - free - offline - pooled * HPAGE_PMD_NR;
  return hugetlbPoolLooksSound(m, nid, pooled, inUse);
}

/**
 * The frames of the free buddy block [pfn, last) are clean (no flag, count, mapping, list
 * or HPageTemporary) and, but for its first, FRAME_FREE; with `since` (not 0) only those in
 * chunks a writer stamped at or after it are read. A frame of an unstamped chunk holds what
 * it held at the last sound pass (every writer stamps the chunk of each frame it changes;
 * the hot setters act on live folios only, and a folio is freed by `resetFrames`, which
 * stamps): a free frame then, so one that pass, or the sound pass before it, found clean.
 * Which block it belonged to does not matter: the test is the frame's own.
 */
function freeFramesLookClean(m: Memmap, pfn: number, last: number, since: number): boolean {
  const state = m.state;
  const flags = m.flags;
  const refcount = m.refcount;
  const mapcount = m.mapcount;
  const mappingId = m.mappingId;
  const listId = m.listId;
  const temp = m.hugeTemporary;
  const stamp = m.chunkEpoch;
  const lastChunk = (last - 1) >>> WRITE_CHUNK_SHIFT;
  for (let c = pfn >>> WRITE_CHUNK_SHIFT; c <= lastChunk; c++) {
    if (since !== 0 && stamp[c]! < since) continue;
    const from = Math.max(pfn, c << WRITE_CHUNK_SHIFT);
    const to = Math.min(last, (c + 1) << WRITE_CHUNK_SHIFT);
    for (let p = from; p < to; p++) {
      // One test of the OR of the fields that must be 0; the block's first frame is
      // FRAME_BUDDY, the others FRAME_FREE.
      if (
        (state[p] !== FRAME_FREE && p !== pfn) ||
        (flags[p]! | refcount[p]! | mapcount[p]! | mappingId[p]! | listId[p]!) !== 0
      ) {
        return false;
      }
    }
    if (temp !== null) for (let p = from; p < to; p++) if (temp[p] === 1) return false;
  }
  return true;
}

/**
 * Frames [from, to) are holes on no list; a whole chunk no writer stamped since `holeSince`
 * (0: none) is taken as it was then (see `physicalMemoryLooksSound`).
 */
function holesLookSound(m: Memmap, from: number, to: number, holeSince: number): boolean {
  const state = m.state;
  const listId = m.listId;
  if (holeSince === 0) {
    for (let p = from; p < to; p++) if (state[p] !== FRAME_HOLE || listId[p] !== 0) return false;
    return true;
  }
  const stamp = m.chunkEpoch;
  for (let p = from; p < to; ) {
    if (
      (p & (CHUNK_FRAMES - 1)) === 0 &&
      p + CHUNK_FRAMES <= to &&
      stamp[p >>> WRITE_CHUNK_SHIFT]! < holeSince
    ) {
      p += CHUNK_FRAMES;
      continue;
    }
    if (state[p] !== FRAME_HOLE || listId[p] !== 0) return false;
    p++;
  }
  return true;
}

/** The lists (ids and folios) of the chunk being summarised (`recIds[i]`, `recNr[i]`). */
const recIds = new Int32Array(SUMMARY_LISTS);
const recNr = new Int32Array(SUMMARY_LISTS);

/**
 * Adds the folio at `pfn` (`n` frames, on folio list `id` or 0) to the summary of chunk
 * `rec`, which has `lists` lists so far; returns the lists it has now, or -1 when the
 * chunk cannot be summarised (a hugetlb folio, a folio reaching out of it, a list too many).
 */
function summarised(
  rec: number,
  pfn: number,
  n: number,
  id: number,
  hugetlb: boolean,
  lists: number,
): number {
  if (hugetlb || pfn + n > (rec + 1) << WRITE_CHUNK_SHIFT) return -1;
  if (id === 0) return lists;
  for (let i = 0; i < lists; i++) {
    if (recIds[i] === id) {
      recNr[i]!++;
      return lists;
    }
  }
  if (lists === SUMMARY_LISTS) return -1;
  recIds[lists] = id;
  recNr[lists] = 1;
  return lists + 1;
}

/** Writes the summary of chunk `c` (see chunk-summary.ts), found at write epoch `epoch`. */
function recordSummary(
  summaries: Int32Array,
  c: number,
  epoch: number,
  free: number,
  kind: number,
  lists: number,
): void {
  const at = c * CHUNK_SUMMARY_WORDS;
  summaries[at + SUMMARY_AT] = epoch;
  summaries[at + SUMMARY_FREE] = free;
  summaries[at + SUMMARY_KIND] = kind;
  for (let i = 0; i < SUMMARY_LISTS; i++) {
    summaries[at + SUMMARY_LIST0 + 2 * i] = i < lists ? recIds[i]! : 0;
    summaries[at + SUMMARY_LIST0 + 2 * i + 1] = i < lists ? recNr[i]! : 0;
  }
}

/** The folio-list links of head `pfn`, on the list with id `id`; counts it there. */
function folioLinksLookSound(m: Memmap, pfn: number, id: number, counts: Int32Array): boolean {
  const owner = m.lists[id];
  if (owner === null || owner === undefined) return false;
  counts[id]!++;
  const next = m.next[pfn]!;
  const prev = m.prev[pfn]!;
  if (next >= 0 && (m.listId[next] !== id || m.prev[next] !== pfn)) return false;
  if (prev >= 0 && (m.listId[prev] !== id || m.next[prev] !== pfn)) return false;
  if (prev < 0 && owner.first() !== pfn) return false;
  return next >= 0 || owner.last() === pfn;
}

function hugetlbPoolLooksSound(m: Memmap, nid: number, pooled: number, inUse: number): boolean {
  if (m.surplusHugePages[nid]! < 0) return false;
  let count = 0;
  let prev = -1;
  for (let p = m.hugeFreeHead[nid]!; p >= 0; p = m.next[p]!) {
    if (count > pooled) return false;
    if (m.state[p] !== FRAME_POOL_HEAD || m.nid[p] !== nid || m.prev[p] !== prev) return false;
    prev = p;
    count++;
  }
  return (
    count === pooled && m.freeHugePages[nid] === count && m.nrHugePages[nid] === pooled + inUse
  );
}

function freeListsLookSound(m: Memmap): boolean {
  for (let nid = 0; nid < m.nrNodes; nid++) {
    let normal = 0;
    let cma = 0;
    let isolate = 0;
    for (let kind = 0; kind < FREE_KINDS; kind++) {
      for (let order = 0; order < MAX_ORDER; order++) {
        const slot = (kind * m.nrNodes + nid) * MAX_ORDER + order;
        const expected = m.nrFree[slot]!;
        let count = 0;
        let prev = -1;
        for (let p = m.freeHead[slot]!; p >= 0; p = m.next[p]!) {
          if (count > expected) return false;
          if (
            m.state[p] !== FRAME_BUDDY ||
            m.order[p] !== order ||
            m.nid[p] !== nid ||
            m.freeKind[p] !== kind ||
            m.prev[p] !== prev
          ) {
            return false;
          }
          prev = p;
          count++;
        }
        if (m.freeTail[slot] !== prev || count !== expected) return false;
        if (kind === FREE_KIND_NORMAL) normal += count << order;
        else if (kind === FREE_KIND_CMA) cma += count << order;
        else isolate += count << order;
      }
    }
    if (normal + cma !== m.nodeFree[nid] || cma !== m.nodeFreeCma[nid]) return false;
    if (isolate !== m.nodeFreeIsolated[nid]) return false;
  }
  return true;
}
