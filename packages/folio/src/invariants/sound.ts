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
  type Memmap,
  WRITE_CHUNK_SHIFT,
} from '../memmap.js';
import { PAGEBLOCK_NR_PAGES, PAGEBLOCK_ORDER } from '../pageblock.js';
import { takeBuiltClean } from './built-clean.js';
import {
  CHUNK_FRAMES,
  CHUNK_SUMMARY_WORDS,
  nodeTotalsAt,
  nodeUsedAt,
  SUMMARY_FREE,
  SUMMARY_HUGE,
  SUMMARY_LIST0,
  SUMMARY_LISTS,
  SUMMARY_ORDERS,
  SUMMARY_SEG,
  type WalkRecord,
  walkRecord,
} from './chunk-summary.js';
import { freeRunClean, holeRunClean, type WideViews, wideViews } from './wide.js';

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
 * there too, as the frames inside a block were found free or tails); nor, on a pass right
 * after a sound one, those of a folio of 16 frames or fewer none of whose frames a writer
 * stamped (`Memmap.frameEpoch`). Such a folio is only counted: on its folio list, in the
 * pool or in use. Its list links are as they were (the lists stamp the frames whose links
 * they write); a neighbour taken off a list or freed behind it leaves the list's count
 * short, which the count test finds. Of a free buddy block, only the frames in stamped
 * chunks are read (`freeFramesLookClean`). Every pass moves the write epoch on; one that
 * finds the map sound, full or not, moves the sound epoch to it. A write straight into the
 * arrays bypasses the stamps: only a full pass (the default) sees it.
 *
 * A pass proportional to what was written: each pass records its walk (`walkRecord`,
 * chunk-summary.ts) as segments, runs of chunks between two block boundaries that fall on
 * a chunk's first frame, with what each counted (free pages, pooled and in-use hugetlb
 * folios, folios per folio list, the orders of its free blocks), and the sums of those
 * counts per node and per list. An incremental pass right after a sound one, with the
 * pageblocks' kinds as that pass saw them, goes from the node's start to the segment of
 * the first chunk a writer stamped since (the writers list those chunks,
 * `Memmap.dirtyChunks`), takes that segment's counts out of the sums, walks it block by
 * block and records it again, and jumps on from the next boundary that begins an
 * unchanged segment. A segment with an offline frame (whose test reads its pageblock) or
 * with folios on more than three lists is walked on every pass. What a skipped segment's
 * blocks depend on outside it is tested from the other side: the buddy-merge test runs
 * from both blocks of a pair, a list link from the walked folio. Of the free lists, only
 * those a list operation changed (`Memmap.freeOrdersWritten`) and those of the orders of the
 * free blocks in the walked segments, then and now, are walked; a node's free-page sums
 * are added up again only when one of its lists was walked or its counters moved. A pass
 * that finds a problem leaves no record; the next one walks everything again (but for
 * what the stamps skip).
 *
 * The holes between nodes (FRAME_HOLE, on no list) are read again only in the chunks a
 * writer stamped since the last sound pass; an incremental pass before any sound one skips
 * the chunks no writer ever stamped (stamp 0: they hold what the memory map was built with,
 * holes). A pass that finds the map sound also records each node's pages in folios
 * (`nodeUsedAt`), which `folioPagesByNode` takes while no writer stamps a chunk.
 */
export function physicalMemoryLooksSound(
  m: Memmap,
  incremental = false,
  trustBuilt = false,
): boolean {
  // A machine no pass has checked yet, taken as built (`takeBuiltClean`): this pass walks
  // every block with no record and reads the frames of the chunks stamped since the build.
  if (trustBuilt && incremental) takeBuiltClean(m, fullPass);
  const epoch = m.writeEpoch;
  const since = incremental ? m.soundEpoch : 0;
  // Writes after this pass are stamped newer than what it reads, whatever it finds.
  m.writeEpoch = epoch + 1;
  const r = walkRecord(m);
  // The record is taken by an incremental pass after a sound one, while the pageblocks'
  // kinds are those that pass saw (a kind changes with no stamp); else rebuilt.
  const reuse = r.valid && since !== 0 && since === epoch && sameKinds(m.pbKind, r.kinds);
  r.valid = false;
  r.fullSound = 0;
  // The chunks stamped since the last pass (the sound one, when the record is taken),
  // sorted; the list starts again for the new epoch.
  const nrDirty = m.nrDirty;
  m.nrDirty = 0;
  r.nrDirty = reuse && nrDirty <= SORTED_DIRTY ? sortDirty(m.dirtyChunks!, nrDirty, r.dirty) : -1;
  wide = wideViews(m);
  if (!framesLookSound(m, since, incremental ? Math.max(since, 1) : 0, r, reuse)) return false;
  // Sound: what was written before this pass is as it saw it.
  m.soundEpoch = epoch + 1;
  r.valid = true;
  r.fullSound = incremental ? 0 : epoch + 1;
  const kinds = m.pbKind;
  if (kinds === null) r.kinds = null;
  else if (r.kinds === null || r.kinds.length !== kinds.length) r.kinds = kinds.slice();
  else r.kinds.set(kinds);
  const summaries = r.words;
  const at = nodeUsedAt(m);
  summaries[at] = epoch + 1;
  for (let nid = 0; nid < m.nrNodes; nid++) summaries[at + 1 + nid] = nodeUsed[nid]!;
  return true;
}

/** The full pass, as `takeBuiltClean` runs it on a configuration's own machine. */
function fullPass(m: Memmap): boolean {
  return physicalMemoryLooksSound(m, false);
}

/** The wide views of this pass's memory map (null: its arrays are read one frame a read). */
let wide: WideViews | null = null;

/** Stamped chunks up to which a pass sorts the writers' list rather than read every stamp. */
const SORTED_DIRTY = 64;

/** Copies the `n` chunks of `from` into `to` in ascending order; returns `n`. */
function sortDirty(from: Int32Array, n: number, to: Int32Array): number {
  for (let i = 0; i < n; i++) {
    const c = from[i]!;
    let j = i;
    for (; j > 0 && to[j - 1]! > c; j--) to[j] = to[j - 1]!;
    to[j] = c;
  }
  return n;
}

/** Whether the pageblocks' free kinds `now` are those of `then` (null: all normal). */
function sameKinds(now: Uint8Array | null, then: Uint8Array | null): boolean {
  if (now === null || then === null) return now === then;
  if (now.length !== then.length) return false;
  for (let i = 0; i < now.length; i++) if (now[i] !== then[i]) return false;
  return true;
}

/**
 * `physicalMemoryLooksSound` of the frames, skipping the blocks of chunks older than `since`
 * and the holes of chunks older than `holeSince`; with `reuse`, the stored segments of the
 * walk record no writer stamped since are not visited.
 */
function framesLookSound(
  m: Memmap,
  since: number,
  holeSince: number,
  r: WalkRecord,
  reuse: boolean,
): boolean {
  const nrLists = m.lists.length;
  if (r.lists.length < nrLists) {
    const grown = new Int32Array(Math.max(nrLists, 2 * r.lists.length));
    grown.set(r.lists);
    r.lists = grown;
  }
  if (!reuse) {
    r.lists.fill(0);
    const at = nodeTotalsAt(m, 0);
    r.words.fill(0, at, at + 4 * m.nrNodes);
  }
  // Each list's folios: those of the stored segments, to which the walk adds and from
  // which it takes what it walks again.
  const counts = listCounts(nrLists);
  const totals = r.lists;
  for (let id = 0; id < nrLists; id++) counts[id] = totals[id]!;
  if (nodeUsed.length < m.nrNodes) {
    nodeUsed = new Int32Array(m.nrNodes);
    walkedOrders = new Int32Array(m.nrNodes);
  }
  for (let nid = 0; nid < m.nrNodes; nid++) {
    if (!nodeLooksSound(m, nid, counts, since, holeSince, r, reuse)) return false;
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
  if (!freeListsLookSound(m, r, reuse)) return false;
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

/**
 * Per node, the orders whose free lists the pass walks besides those a writer changed
 * (`freeOrdersWritten`): a bit per order of a free block the node walk met or of a segment
 * it walked again (-1: all).
 */
let walkedOrders = new Int32Array(8);

/** Folios counted per folio-list id, reused from one check to the next (zeroed on each). */
let scratchCounts = new Int32Array(64);

function listCounts(nrLists: number): Int32Array {
  if (scratchCounts.length < nrLists) {
    scratchCounts = new Int32Array(Math.max(nrLists, scratchCounts.length * 2));
  }
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

/**
 * Whether no frame of [pfn, pfn + n) has `byte` as its `frameEpoch`: none was written in the
 * epoch whose low byte it is (a frame whose byte it is was, or 256 epochs before).
 */
function framesUnchanged(frames: Uint8Array, pfn: number, n: number, byte: number): boolean {
  for (let p = pfn; p < pfn + n; p++) if (frames[p] === byte) return false;
  return true;
}

function nodeLooksSound(
  m: Memmap,
  nid: number,
  counts: Int32Array,
  since: number,
  holeSince: number,
  r: WalkRecord,
  reuse: boolean,
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
  const words = r.words;
  const listTotals = r.lists;
  const start = m.nodeStart[nid]!;
  const end = m.nodeEnd[nid]!;
  // Segments are recorded for a node that begins on a chunk (every node of a machine built
  // by `createPhysicalMemory`); `jump` takes the stored ones from the record.
  const track = (start & (CHUNK_FRAMES - 1)) === 0 && end > start;
  const jump = track && reuse;
  const at = nodeTotalsAt(m, nid);
  const nrDirty = r.nrDirty;
  const dirty = r.dirty;
  const sorted = jump && nrDirty >= 0 && words[at + 3] === 0;
  let k = 0;
  let always = 0;
  // On a pass that takes the record, one epoch after the sound pass (`since` is the epoch
  // its writes were stamped with), the frames' own stamps tell which frames of a stamped
  // chunk were written.
  const frames = jump ? m.frameEpoch : null;
  const sinceByte = since & 0xff;
  // The orders of the free blocks the walk met or of the segments it forgot: the free lists
  // of this node to walk (on a pass that takes the record).
  let orders = 0;
  let segOrders = 0;
  // What the walk counts in the blocks it visits (the stored segments it skips are in the
  // node's sums, `words[at..at + 2]`), and what the segments it stores add to those sums.
  let free = 0;
  let pooled = 0;
  let inUse = 0;
  let offline = 0;
  let storedFree = 0;
  let storedPooled = 0;
  let storedInUse = 0;
  let checkedBlock = -1;
  const endChunk = end > start ? ((end - 1) >>> WRITE_CHUNK_SHIFT) + 1 : 0;
  // The chunks below `sub` were walked (their old segments taken out of the sums) or
  // skipped; `seg` the first chunk of the segment being walked (-1: none), and what the
  // walk had counted when it began.
  let sub = start >>> WRITE_CHUNK_SHIFT;
  let seg = -1;
  let segFree = 0;
  let segPooled = 0;
  let segInUse = 0;
  let segOk = false;
  let segLists = 0;
  let pfn = start;
  while (pfn < end) {
    if (track && (pfn & (CHUNK_FRAMES - 1)) === 0) {
      const c = pfn >>> WRITE_CHUNK_SHIFT;
      if (jump && sub < c) {
        orders |= forget(words, listTotals, counts, at, sub, c);
        sub = c;
      }
      if (seg >= 0) {
        if (segOk) {
          storedFree += free - segFree;
          storedPooled += pooled - segPooled;
          storedInUse += inUse - segInUse;
        }
        orders |= segOrders;
        if (!segOk) always++;
        closeSegment(
          words,
          listTotals,
          seg,
          c,
          segOk,
          free - segFree,
          pooled - segPooled,
          inUse - segInUse,
          segLists,
          segOrders,
        );
        seg = -1;
      }
      if (jump && words[c * CHUNK_SUMMARY_WORDS]! >> 1 === c) {
        // A segment of the last sound pass begins here: skip the stored segments no writer
        // stamped since, to the segment of the first chunk that changed (or must be walked):
        // from the sorted list of the stamped chunks while the node has no segment walked
        // on every pass, else from the stamps.
        let d = c;
        if (sorted) {
          while (k < nrDirty && dirty[k]! < c) k++;
          d = k < nrDirty && dirty[k]! < endChunk ? dirty[k]! : endChunk;
        } else {
          while (d < endChunk && stamp[d]! < since && (words[d * CHUNK_SUMMARY_WORDS]! & 1) === 0) {
            d++;
          }
        }
        if (d === endChunk) {
          sub = endChunk;
          pfn = end;
          break;
        }
        const g = Math.max(c, words[d * CHUNK_SUMMARY_WORDS]! >> 1);
        pfn = g << WRITE_CHUNK_SHIFT;
        sub = g;
      }
      seg = pfn >>> WRITE_CHUNK_SHIFT;
      segFree = free;
      segPooled = pooled;
      segInUse = inUse;
      segOk = true;
      segLists = 0;
      segOrders = 0;
    }
    if (jump) {
      // The stored segments that begin in this block's first chunk are walked again: out of
      // the sums (the chunks its other frames cover, at the next block or the node's end).
      const cc = pfn >>> WRITE_CHUNK_SHIFT;
      if (cc >= sub) {
        orders |= forget(words, listTotals, counts, at, sub, cc + 1);
        sub = cc + 1;
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
      // A full walk tests each pair from its lower block; one that skips segments tests it
      // from both (the other block may lie in a segment it does not visit).
      if (
        (pfn < buddy || jump) &&
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
      segOrders |= 1 << o;
      free += n;
      pfn = last;
    } else if (s === FRAME_HEAD || s === FRAME_POOL_HEAD) {
      const o = order[pfn]!;
      // No folio has an order from 31 on (a shift would wrap): only a raw write stores one.
      if (o > 30) return false;
      const n = 1 << o;
      const pool = s === FRAME_POOL_HEAD;
      const id = listId[pfn]!;
      if (seg >= 0 && id !== 0 && segOk) {
        segLists = segmentList(id, segLists);
        if (segLists < 0) segOk = false;
      }
      if (
        (frames !== null && n <= CHUNK_FRAMES && framesUnchanged(frames, pfn, n, sinceByte)) ||
        unchanged(stamp, since, pfn, n)
      ) {
        // No frame of the folio written since the last sound pass, which found it a sound
        // folio of this order here: only the counts (its list's, the pool and in-use ones).
        // Its list links are as they were (the lists stamp the frames whose links they
        // write); a neighbour taken off the list or freed behind it leaves the list's count
        // short, which the count test finds.
        if (pool) pooled++;
        else if (m.folioType[pfn] === FOLIO_TYPE_HUGETLB) inUse++;
        if (id !== 0) {
          if (pool) return false;
          counts[id]!++;
        }
        pfn += n;
        continue;
      }
      if ((pfn & (n - 1)) !== 0 || pfn + n > end || headOf[pfn] !== pfn) return false;
      if (((flags[pfn]! & (1 << PG_head)) !== 0) !== o > 0) return false;
      if (refcount[pfn]! < 0 || m.entireMapcount[pfn]! < 0) return false;
      const hugetlb = m.folioType[pfn] === FOLIO_TYPE_HUGETLB;
      if (pool) {
        if (refcount[pfn] !== 0 || !hugetlb || o !== HPAGE_PMD_ORDER) return false;
        pooled++;
      } else if (hugetlb) inUse++;
      if (temp !== null && temp[pfn] === 1 && (pool || !hugetlb)) return false;
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
      pfn = last;
    } else if (s === FRAME_OFFLINE) {
      // Its test reads its whole pageblock: the segment is walked on every pass.
      segOk = false;
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
  // The node ends with the segment: record it (as at the top of the loop).
  if (jump && sub < endChunk) orders |= forget(words, listTotals, counts, at, sub, endChunk);
  if (seg >= 0) {
    if (segOk) {
      storedFree += free - segFree;
      storedPooled += pooled - segPooled;
      storedInUse += inUse - segInUse;
    }
    orders |= segOrders;
    if (!segOk) always++;
    closeSegment(
      words,
      listTotals,
      seg,
      endChunk,
      segOk,
      free - segFree,
      pooled - segPooled,
      inUse - segInUse,
      segLists,
      segOrders,
    );
  }
  if (track) {
    // The node's whole counts: the stored segments not walked, and what the walk found;
    // then the segments stored now join the sums.
    free += words[at]!;
    pooled += words[at + 1]!;
    inUse += words[at + 2]!;
    words[at] = words[at]! + storedFree;
    words[at + 1] = words[at + 1]! + storedPooled;
    words[at + 2] = words[at + 2]! + storedInUse;
    words[at + 3] = words[at + 3]! + always;
  }
  if (free !== m.nodeFree[nid]! + m.nodeFreeIsolated[nid]!) return false;
  if (offline !== m.nodeOffline[nid]) return false;
  const gapEnd = nid + 1 < m.nrNodes ? m.nodeStart[nid + 1]! : m.maxPfn;
  if (!holesLookSound(m, end, gapEnd, holeSince, r)) return false;
  // The walk went block by block through the node: what is not free, offline or pooled
  // (each pooled folio of HPAGE_PMD_ORDER) is in folios.
  nodeUsed[nid] = end - start - free - offline - pooled * HPAGE_PMD_NR;
  // An untracked node's walk met every block: its lists are walked whole (all orders).
  walkedOrders[nid] = track ? orders : -1;
  return hugetlbPoolLooksSound(m, nid, pooled, inUse);
}

/**
 * The frames of the free buddy block [pfn, last) are clean (no flag, count, mapping, list
 * or HPageTemporary) and, but for its first, FRAME_FREE; with `since` (not 0) only those in
 * chunks a writer stamped at or after it are read. A frame of an unstamped chunk holds what
 * it held at the last sound pass (every writer stamps the chunk of each frame it changes;
 * the hot setters act on live folios only, and a folio is freed by `resetFrames`, which
 * stamps): a free frame then, so one that pass, or the sound pass before it, found clean.
 * Which block it belonged to does not matter: the test is the frame's own. Consecutive
 * chunks to read are read as one run (a full pass reads the whole block in one): a call of
 * the run test a run, not a chunk.
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
  const w = wide;
  let c = pfn >>> WRITE_CHUNK_SHIFT;
  while (c <= lastChunk) {
    if (since !== 0 && stamp[c]! < since) {
      c++;
      continue;
    }
    // The run of chunks to read from here, read in one go (the whole block on a full pass).
    let stop = c + 1;
    if (since === 0) stop = lastChunk + 1;
    else while (stop <= lastChunk && stamp[stop]! >= since) stop++;
    const from = Math.max(pfn, c << WRITE_CHUNK_SHIFT);
    const to = Math.min(last, stop << WRITE_CHUNK_SHIFT);
    c = stop;
    // A block of four frames or more: its runs begin and end on a multiple of 4.
    if (w !== null && last - pfn >= 4) {
      if (!freeRunClean(w, from, to, pfn)) return false;
    } else {
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
    }
    if (temp !== null) for (let p = from; p < to; p++) if (temp[p] === 1) return false;
  }
  return true;
}

/**
 * Frames [from, to) are holes on no list; a whole chunk no writer stamped since `holeSince`
 * (0: none) is taken as it was then (see `physicalMemoryLooksSound`). On a pass that has the
 * sorted list of the chunks stamped since the last sound pass (`WalkRecord.dirty`, when
 * `nrDirty` is not -1), the chunks stamped since `holeSince` are those of the list: no
 * stamp is read.
 */
function holesLookSound(
  m: Memmap,
  from: number,
  to: number,
  holeSince: number,
  r: WalkRecord,
): boolean {
  if (holeSince === 0) return holeFramesLookSound(m, from, to);
  // The whole chunks of the gap, [first, stop); the frames around them are read.
  const first = (from + CHUNK_FRAMES - 1) >>> WRITE_CHUNK_SHIFT;
  const stop = to >>> WRITE_CHUNK_SHIFT;
  if (first >= stop) return holeFramesLookSound(m, from, to);
  if (!holeFramesLookSound(m, from, first << WRITE_CHUNK_SHIFT)) return false;
  if (!holeFramesLookSound(m, stop << WRITE_CHUNK_SHIFT, to)) return false;
  const nrDirty = r.nrDirty;
  if (nrDirty >= 0) {
    const dirty = r.dirty;
    for (let k = 0; k < nrDirty; k++) {
      const c = dirty[k]!;
      if (c >= stop) break;
      if (
        c >= first &&
        !holeFramesLookSound(m, c << WRITE_CHUNK_SHIFT, (c + 1) << WRITE_CHUNK_SHIFT)
      ) {
        return false;
      }
    }
    return true;
  }
  const stamp = m.chunkEpoch;
  for (let c = first; c < stop; c++) {
    if (stamp[c]! < holeSince) continue;
    if (!holeFramesLookSound(m, c << WRITE_CHUNK_SHIFT, (c + 1) << WRITE_CHUNK_SHIFT)) return false;
  }
  return true;
}

/** Frames [from, to) are holes on no list, every one read (through the wide views if any). */
function holeFramesLookSound(m: Memmap, from: number, to: number): boolean {
  if (wide !== null) return holeRunClean(m, wide, from, to);
  const state = m.state;
  const listId = m.listId;
  for (let p = from; p < to; p++) if (state[p] !== FRAME_HOLE || listId[p] !== 0) return false;
  return true;
}

/** The lists (ids and folios) of the segment being walked (`recIds[i]`, `recNr[i]`). */
const recIds = new Int32Array(SUMMARY_LISTS);
const recNr = new Int32Array(SUMMARY_LISTS);

/**
 * Counts a folio on folio list `id` in the segment being walked, which has `lists` lists so
 * far; returns the lists it has now, or -1 when it has one too many to be stored.
 */
function segmentList(id: number, lists: number): number {
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

/**
 * Records the segment of chunks [`seg`, `stop`) the walk went through: each chunk names its
 * first (and whether it is walked on every pass), the first the orders of its free blocks;
 * a stored segment keeps what it counted, its lists' folios added to the lists' sums
 * (`listTotals`).
 */
function closeSegment(
  words: Int32Array,
  listTotals: Int32Array,
  seg: number,
  stop: number,
  stored: boolean,
  free: number,
  pooled: number,
  inUse: number,
  lists: number,
  orders: number,
): void {
  const word = (seg << 1) | (stored ? 0 : 1);
  for (let c = seg; c < stop; c++) words[c * CHUNK_SUMMARY_WORDS + SUMMARY_SEG] = word;
  const at = seg * CHUNK_SUMMARY_WORDS;
  words[at + SUMMARY_ORDERS] = orders;
  if (!stored) return;
  words[at + SUMMARY_FREE] = free;
  words[at + SUMMARY_HUGE] = pooled + inUse * HUGE_IN_USE;
  for (let i = 0; i < SUMMARY_LISTS; i++) {
    const id = i < lists ? recIds[i]! : 0;
    words[at + SUMMARY_LIST0 + 2 * i] = id;
    words[at + SUMMARY_LIST0 + 2 * i + 1] = i < lists ? recNr[i]! : 0;
    if (id !== 0) listTotals[id] = listTotals[id]! + recNr[i]!;
  }
}

/**
 * Takes the stored segments that begin in chunks [`from`, `to`) out of the node's sums (at
 * `at`), the lists' sums and the pass's list counts: the walk visits their blocks again.
 * Returns the orders of the free blocks of the segments that begin there (the free lists
 * their heads were on).
 */
function forget(
  words: Int32Array,
  listTotals: Int32Array,
  counts: Int32Array,
  at: number,
  from: number,
  to: number,
): number {
  let orders = 0;
  for (let c = from; c < to; c++) {
    const w = c * CHUNK_SUMMARY_WORDS;
    const seg = words[w + SUMMARY_SEG]!;
    if (seg >> 1 === c) orders |= words[w + SUMMARY_ORDERS]!;
    if (seg === ((c << 1) | 1)) words[at + 3] = words[at + 3]! - 1;
    if (seg !== c << 1) continue;
    const huge = words[w + SUMMARY_HUGE]!;
    words[at] = words[at]! - words[w + SUMMARY_FREE]!;
    words[at + 1] = words[at + 1]! - (huge % HUGE_IN_USE);
    words[at + 2] = words[at + 2]! - Math.floor(huge / HUGE_IN_USE);
    for (let i = 0; i < SUMMARY_LISTS; i++) {
      const id = words[w + SUMMARY_LIST0 + 2 * i]!;
      if (id === 0) break;
      const nr = words[w + SUMMARY_LIST0 + 2 * i + 1]!;
      listTotals[id] = listTotals[id]! - nr;
      counts[id] = counts[id]! - nr;
    }
  }
  return orders;
}

/** `SUMMARY_HUGE` counts the hugetlb folios in use in units of this (the pooled in ones). */
const HUGE_IN_USE = 65_536;

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

/**
 * The free lists: each a chain from its head to its tail of as many FRAME_BUDDY heads of its
 * order, node and kind as its count says, and each node's counts adding up to its free-page
 * counters. With `reuse`, only the lists a writer changed (`freeOrdersWritten`) and those of
 * the orders the node walks met or walked again (`walkedOrders`) are walked: any other list
 * has the head, tail and count, and its blocks the frames, that the last sound pass found
 * (a block linked there then lies in a segment the walk skipped, whose frames no writer
 * stamped since). A node with no list walked and its counters as that pass saw them is not
 * summed again, nor are its counts read.
 */
function freeListsLookSound(m: Memmap, r: WalkRecord, reuse: boolean): boolean {
  const nrNodes = m.nrNodes;
  const written = m.freeOrdersWritten;
  const seen = r.freeCounts;
  // While every pageblock is NORMAL (no `pbKind`, which once made stays; with `reuse`, the
  // last sound pass saw none either), the free blocks of the walked segments, then and now,
  // were on NORMAL lists: the node walk tests each block's kind against its pageblock's. A
  // CMA or isolate list was then found empty by the full pass that began the run of sound
  // passes, and holds since only what a writer linked there, which marks it.
  const normalOnly = reuse && m.pbKind === null;
  for (let nid = 0; nid < nrNodes; nid++) {
    // The orders to walk, per kind: those the node walk asks for and those written.
    const want = reuse ? walkedOrders[nid]! & ALL_ORDERS : ALL_ORDERS;
    const otherWant = normalOnly ? 0 : want;
    const normalOrders = want | written[nid]!;
    const cmaOrders = otherWant | written[nrNodes + nid]!;
    const isolateOrders = otherWant | written[2 * nrNodes + nid]!;
    const nodeFree = m.nodeFree[nid]!;
    const nodeCma = m.nodeFreeCma[nid]!;
    const nodeIsolated = m.nodeFreeIsolated[nid]!;
    const at = 3 * nid;
    if (
      (normalOrders | cmaOrders | isolateOrders) === 0 &&
      seen[at] === nodeFree &&
      seen[at + 1] === nodeCma &&
      seen[at + 2] === nodeIsolated
    ) {
      continue;
    }
    // Every list's blocks are its count now (walked, or as the last sound pass found them).
    const normal = freeKindLooksSound(m, nid, FREE_KIND_NORMAL, normalOrders);
    if (normal < 0) return false;
    const cma = freeKindLooksSound(m, nid, FREE_KIND_CMA, cmaOrders);
    if (cma < 0) return false;
    const isolate = freeKindLooksSound(m, nid, FREE_KIND_ISOLATE, isolateOrders);
    if (isolate < 0) return false;
    if (normal + cma !== nodeFree || cma !== nodeCma || isolate !== nodeIsolated) return false;
    seen[at] = nodeFree;
    seen[at + 1] = nodeCma;
    seen[at + 2] = nodeIsolated;
  }
  return true;
}

/** Every order's bit in a `walkedOrders` or `freeOrdersWritten` word. */
const ALL_ORDERS = (1 << MAX_ORDER) - 1;

/**
 * The free lists of `kind` on node `nid`: walks those of `orders` (a bit per order; their
 * written marks cleared) and returns the pages of all eleven lists by their counts, or -1
 * when a walked list is not a chain of as many FRAME_BUDDY heads of its order, node and
 * kind as its count says.
 */
function freeKindLooksSound(m: Memmap, nid: number, kind: number, orders: number): number {
  const group = kind * m.nrNodes + nid;
  const first = group * MAX_ORDER;
  const nrFree = m.nrFree;
  let pages = 0;
  for (let order = 0; order < MAX_ORDER; order++) pages += nrFree[first + order]! << order;
  if (orders === 0) return pages;
  m.freeOrdersWritten[group] = 0;
  const freeHead = m.freeHead;
  const freeTail = m.freeTail;
  const next = m.next;
  const prevOf = m.prev;
  const state = m.state;
  const orderOf = m.order;
  const nids = m.nid;
  const freeKind = m.freeKind;
  for (let left = orders; left !== 0; left &= left - 1) {
    const order = 31 - Math.clz32(left & -left);
    const slot = first + order;
    const expected = nrFree[slot]!;
    let p = freeHead[slot]!;
    // An empty list: no head, no tail, no count.
    if (p < 0 && expected === 0 && freeTail[slot] === -1) continue;
    let count = 0;
    let prev = -1;
    for (; p >= 0; p = next[p]!) {
      if (count > expected) return -1;
      if (
        state[p] !== FRAME_BUDDY ||
        orderOf[p] !== order ||
        nids[p] !== nid ||
        freeKind[p] !== kind ||
        prevOf[p] !== prev
      ) {
        return -1;
      }
      prev = p;
      count++;
    }
    if (freeTail[slot] !== prev || count !== expected) return -1;
  }
  return pages;
}
