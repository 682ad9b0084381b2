import { buddiesMustMerge } from '../buddy.js';
import { HPAGE_PMD_ORDER, MAX_ORDER } from '../constants.js';
import { PG_head, PG_hwpoison, PG_reserved } from '../flags.js';
import type { FolioList } from '../folio-list.js';
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
  listOwnerOf,
  type Memmap,
  memmapOf,
  type PhysicalMemory,
} from '../memmap.js';
import { PAGEBLOCK_NR_PAGES, PAGEBLOCK_ORDER } from '../pageblock.js';

/**
 * Consistency checks of the whole memory model, the kind of thing CONFIG_DEBUG_VM and
 * `bad_page` catch in the kernel. Slow (it walks every frame): for tests and the explorer,
 * not for hot paths. Problems are reported once per block or folio, not once per frame.
 */

const MAX_PROBLEMS = 50;

class Problems {
  readonly list: string[] = [];
  dropped = 0;

  add(message: string): void {
    if (this.list.length < MAX_PROBLEMS) this.list.push(message);
    else this.dropped++;
  }
}

/**
 * The reporting form of `checkPhysicalMemory`: walks the memory map pass by pass and
 * returns one message per problem (empty when sound). `checkPhysicalMemory` runs
 * `physicalMemoryLooksSound` first and this only when that finds something, so both say
 * the same thing. Checks every structural invariant:
 * each frame is free in exactly one buddy block or belongs to exactly one folio (or pooled
 * hugetlb folio); tails point at a live head; no negative refcount or mapcount; the
 * folio's kept mapcount sum matches its pages; free lists are well linked and match
 * nr_free; no two free buddies are left unmerged; per-node free counts and hugetlb pool
 * counters match the frames; folio lists are well linked and match their sizes; the zero
 * page is intact.
 *
 * The kernel rules behind them (mm/page_alloc.c, mm/hugetlb.c, mm/internal.h, 6.3):
 * `__free_one_page` merges a freed block with its free buddy under `zone->lock`, so no
 * two free buddies stay apart (the model has no per-CPU lists, which hold pages out of
 * the buddy in the kernel); `page_is_buddy` / PageBuddy mark exactly the free heads;
 * `prep_compound_page` points every tail at its head and a split (`__split_huge_page`,
 * `split_page`) rewrites them in one step; `_refcount` and `_mapcount` never go below
 * their base (`VM_BUG_ON_PAGE` in `put_page_testzero`, `page_remove_rmap`); the hugetlb
 * pool counters (`free_huge_pages_node`, `nr_huge_pages_node`) count the pooled folios.
 */
export function reportPhysicalMemory(mem: PhysicalMemory): string[] {
  const m = memmapOf(mem);
  const problems = new Problems();
  for (let nid = 0; nid < m.nrNodes; nid++) checkNodeFrames(m, nid, problems);
  checkFreeLists(m, problems);
  checkIsolation(m, problems);
  checkPools(m, problems);
  checkFolioLists(m, problems);
  checkZeroPage(m, problems);
  const out = problems.list;
  if (problems.dropped > 0) out.push(`... and ${problems.dropped} more problems`);
  return out;
}

function isDirty(m: Memmap, p: number): boolean {
  return (
    m.flags[p] !== 0 ||
    m.refcount[p] !== 0 ||
    m.mapcount[p] !== 0 ||
    m.mappingId[p] !== 0 ||
    m.listId[p] !== 0
  );
}

/** Walks a node's frames block by block and checks its free counter. */
function checkNodeFrames(m: Memmap, nid: number, bad: Problems): void {
  const start = m.nodeStart[nid]!;
  const end = m.nodeEnd[nid]!;
  let free = 0;
  let offline = 0;
  let pfn = start;
  while (pfn < end) {
    const s = m.state[pfn]!;
    if (m.nid[pfn] !== nid) bad.add(`pfn ${pfn}: nid ${m.nid[pfn]} inside node ${nid}`);
    if (s === FRAME_BUDDY) {
      const order = m.order[pfn]!;
      const n = 1 << order;
      if (order >= MAX_ORDER || pfn % n !== 0 || pfn + n > end) {
        bad.add(`free block at pfn ${pfn} (order ${order}) is misaligned or leaves node ${nid}`);
        pfn++;
        continue;
      }
      let notFree = -1;
      let dirty = -1;
      for (let p = pfn; p < pfn + n; p++) {
        if (p > pfn && notFree < 0 && m.state[p] !== FRAME_FREE) notFree = p;
        if (dirty < 0 && isDirty(m, p)) dirty = p;
      }
      if (notFree >= 0)
        bad.add(`pfn ${notFree} lies in free block ${pfn} (order ${order}) but is not free`);
      if (dirty >= 0)
        bad.add(`free pfn ${dirty} is not clean (flags, refcount, mapcount, mapping or list)`);
      const buddy = pfn ^ n;
      if (
        order < MAX_ORDER - 1 &&
        m.state[buddy] === FRAME_BUDDY &&
        m.order[buddy] === order &&
        m.freeKind[buddy] === m.freeKind[pfn] &&
        buddiesMustMerge(order, m.freeKind[pfn]!)
      ) {
        if (pfn < buddy)
          bad.add(`free buddies ${pfn} and ${buddy} of order ${order} were not merged`);
      }
      free += n;
      pfn += n;
    } else if (s === FRAME_HEAD || s === FRAME_POOL_HEAD) {
      pfn += checkFolioFrames(m, pfn, end, bad);
    } else if (s === FRAME_TAIL || s === FRAME_POOL_TAIL) {
      bad.add(`pfn ${pfn} is a tail but no live head before it owns it (head ${m.headOf[pfn]})`);
      pfn++;
    } else if (s === FRAME_OFFLINE) {
      offline++;
      pfn++;
    } else if (s === FRAME_FREE) {
      bad.add(`pfn ${pfn} is free but in no buddy block`);
      pfn++;
    } else if (s === FRAME_HOLE) {
      bad.add(`pfn ${pfn} inside node ${nid} is marked as a hole`);
      pfn++;
    } else {
      bad.add(`pfn ${pfn} has unknown state ${s}`);
      pfn++;
    }
  }
  if (free !== m.nodeFree[nid]! + m.nodeFreeIsolated[nid]!) {
    bad.add(
      `node ${nid}: free counters ${m.nodeFree[nid]} + ${m.nodeFreeIsolated[nid]} isolated but ${free} free frames`,
    );
  }
  if (offline !== m.nodeOffline[nid]) {
    bad.add(`node ${nid}: offline counter ${m.nodeOffline[nid]} but ${offline} offline frames`);
  }
  const gapEnd = nid + 1 < m.nrNodes ? m.nodeStart[nid + 1]! : m.maxPfn;
  // The frames between nodes are holes and on no folio list: the whole-memory walks below
  // (isolation, folio lists) and those of the other packages' checks skip them.
  for (let p = end; p < gapEnd; p++) {
    if (m.state[p] !== FRAME_HOLE) {
      bad.add(`pfn ${p} between nodes is not a hole`);
      break;
    }
    if (m.listId[p] !== 0) {
      bad.add(`pfn ${p} between nodes names folio list ${m.listId[p]}`);
      break;
    }
  }
}

/** Checks one allocated or pooled folio; returns how many frames to skip. */
function checkFolioFrames(m: Memmap, pfn: number, end: number, bad: Problems): number {
  const pooled = m.state[pfn] === FRAME_POOL_HEAD;
  const order = m.order[pfn]!;
  // Exact for any stored order (a shift would wrap from order 31 on and walk backwards).
  const n = 2 ** order;
  const tailState = pooled ? FRAME_POOL_TAIL : FRAME_TAIL;
  if (pfn % n !== 0 || pfn + n > end)
    bad.add(`folio ${pfn} (order ${order}) is misaligned or leaves its node`);
  if (m.headOf[pfn] !== pfn) bad.add(`folio ${pfn}: head does not point at itself`);
  if (((m.flags[pfn]! & (1 << PG_head)) !== 0) !== order > 0) {
    bad.add(`folio ${pfn}: PG_head does not match order ${order}`);
  }
  if (m.refcount[pfn]! < 0) bad.add(`folio ${pfn}: negative refcount ${m.refcount[pfn]}`);
  if (m.entireMapcount[pfn]! < 0) bad.add(`folio ${pfn}: negative entire mapcount`);
  if (pooled) {
    if (m.refcount[pfn] !== 0)
      bad.add(`pooled hugetlb folio ${pfn} has refcount ${m.refcount[pfn]}`);
    if (m.folioType[pfn] !== FOLIO_TYPE_HUGETLB || order !== HPAGE_PMD_ORDER) {
      bad.add(`pooled folio ${pfn} is not an order-${HPAGE_PMD_ORDER} hugetlb folio`);
    }
  }
  let sum = 0;
  let badTail = -1;
  let listedTail = -1;
  let negative = -1;
  const last = Math.min(pfn + n, end);
  for (let p = pfn; p < last; p++) {
    if (p > pfn) {
      if (badTail < 0 && (m.state[p] !== tailState || m.headOf[p] !== pfn)) badTail = p;
      if (listedTail < 0 && m.listId[p] !== 0) listedTail = p;
    }
    if (negative < 0 && m.mapcount[p]! < 0) negative = p;
    sum += m.mapcount[p]!;
  }
  if (badTail >= 0) {
    bad.add(
      `pfn ${badTail} should be a tail of folio ${pfn} but is state ${m.state[badTail]} with head ${m.headOf[badTail]}`,
    );
  }
  if (listedTail >= 0) bad.add(`tail pfn ${listedTail} is on a folio list`);
  if (negative >= 0) bad.add(`pfn ${negative}: negative mapcount ${m.mapcount[negative]}`);
  if (sum !== m.totalMapcount[pfn]) {
    bad.add(`folio ${pfn}: kept mapcount sum ${m.totalMapcount[pfn]} but pages sum to ${sum}`);
  }
  if (pooled && sum + m.entireMapcount[pfn]! !== 0)
    bad.add(`pooled hugetlb folio ${pfn} is mapped`);
  return n;
}

function checkFreeLists(m: Memmap, bad: Problems): void {
  for (let nid = 0; nid < m.nrNodes; nid++) {
    const byKind = [0, 0, 0];
    for (let slotIndex = 0; slotIndex < FREE_KINDS * MAX_ORDER; slotIndex++) {
      const kind = (slotIndex / MAX_ORDER) | 0;
      const order = slotIndex % MAX_ORDER;
      const slot = (kind * m.nrNodes + nid) * MAX_ORDER + order;
      const where = `node ${nid} order ${order}${kind === 0 ? '' : kind === FREE_KIND_CMA ? ' (CMA)' : ' (isolate)'}`;
      const expected = m.nrFree[slot]!;
      let count = 0;
      let prev = -1;
      for (let p = m.freeHead[slot]!; p >= 0; p = m.next[p]!) {
        if (count > expected) {
          bad.add(`${where}: free list longer than nr_free ${expected} (or a loop)`);
          break;
        }
        if (m.state[p] !== FRAME_BUDDY || m.order[p] !== order || m.nid[p] !== nid) {
          bad.add(`${where}: pfn ${p} on the free list is not a free block of that order and node`);
        }
        if (m.freeKind[p] !== kind) bad.add(`${where}: pfn ${p} is marked as on another list`);
        if (m.prev[p] !== prev)
          bad.add(`${where}: pfn ${p} has prev ${m.prev[p]}, expected ${prev}`);
        prev = p;
        count++;
      }
      if (m.freeTail[slot] !== prev)
        bad.add(`${where}: tail pointer ${m.freeTail[slot]} but last entry ${prev}`);
      if (count !== expected) bad.add(`${where}: nr_free ${expected} but ${count} blocks listed`);
      byKind[kind]! += count << order;
    }
    const pages = byKind[FREE_KIND_NORMAL]! + byKind[FREE_KIND_CMA]!;
    if (pages !== m.nodeFree[nid]) {
      bad.add(
        `node ${nid}: free lists hold ${pages} pages but the counter says ${m.nodeFree[nid]}`,
      );
    }
    if (byKind[FREE_KIND_CMA] !== m.nodeFreeCma[nid]) {
      bad.add(
        `node ${nid}: CMA free lists hold ${byKind[FREE_KIND_CMA]} pages but the counter says ${m.nodeFreeCma[nid]}`,
      );
    }
    if (byKind[FREE_KIND_ISOLATE] !== m.nodeFreeIsolated[nid]) {
      bad.add(
        `node ${nid}: isolate free lists hold ${byKind[FREE_KIND_ISOLATE]} pages but the counter says ${m.nodeFreeIsolated[nid]}`,
      );
    }
  }
}

/**
 * Pageblock isolation, CMA and offline memory: every free block sits on the lists of the
 * pageblocks it covers (an isolated block's free pages on the isolate lists, where no
 * allocation looks; a CMA block's on the CMA lists, where no unmovable allocation looks;
 * no free page of an ordinary block stranded on those lists), and a pageblock that holds
 * offline frames stays isolated and holds nothing else but poisoned pages: nothing was
 * allocated in an offline memory block.
 */
function checkIsolation(m: Memmap, bad: Problems): void {
  for (let nid = 0; nid < m.nrNodes; nid++) {
    checkIsolationIn(m, m.nodeStart[nid]!, m.nodeEnd[nid]!, bad);
  }
}

/** `checkIsolation` over the frames [start, end) of one node (the holes between are skipped). */
function checkIsolationIn(m: Memmap, lo: number, hi: number, bad: Problems): void {
  const kinds = m.pbKind;
  for (let pfn = lo; pfn < hi; pfn++) {
    const s = m.state[pfn];
    if (s === FRAME_BUDDY) {
      const order = m.order[pfn]!;
      const kind = m.freeKind[pfn]!;
      // A block of an impossible order is checkNodeFrames' finding; here it is one frame.
      const n = order < MAX_ORDER ? 1 << order : 1;
      for (let p = pfn; p < pfn + n; p += PAGEBLOCK_NR_PAGES) {
        const want = kinds === null ? FREE_KIND_NORMAL : kinds[p >> PAGEBLOCK_ORDER]!;
        if (kind !== want) {
          bad.add(
            `free block ${pfn} (order ${order}) is on the ${KIND_NAMES[kind]} lists but pageblock ${p >> PAGEBLOCK_ORDER} is ${KIND_NAMES[want]}`,
          );
          break;
        }
      }
      pfn += n - 1;
    } else if (s === FRAME_OFFLINE) {
      const block = pfn >> PAGEBLOCK_ORDER;
      if (kinds === null || kinds[block] !== FREE_KIND_ISOLATE) {
        bad.add(`pfn ${pfn} is offline but its pageblock ${block} is not isolated`);
      }
      const start = block << PAGEBLOCK_ORDER;
      const end = Math.min(start + PAGEBLOCK_NR_PAGES, m.nodeEnd[m.nid[pfn]!]!);
      for (let p = start; p < end; p++) {
        const t = m.state[p];
        if (t === FRAME_OFFLINE) continue;
        if (t === FRAME_HEAD && (m.flags[p]! & (1 << PG_hwpoison)) !== 0) continue;
        bad.add(`pfn ${p} is in use or free in pageblock ${block}, which was taken offline`);
        break;
      }
      pfn = end - 1;
    }
  }
}

const KIND_NAMES = ['ordinary', 'CMA', 'isolate'];

function checkPools(m: Memmap, bad: Problems): void {
  for (let nid = 0; nid < m.nrNodes; nid++) {
    let inUse = 0;
    let pooled = 0;
    for (let p = m.nodeStart[nid]!; p < m.nodeEnd[nid]!; p++) {
      if (m.state[p] === FRAME_HEAD && m.folioType[p] === FOLIO_TYPE_HUGETLB) inUse++;
      else if (m.state[p] === FRAME_POOL_HEAD) pooled++;
      if (
        m.hugeTemporary?.[p] === 1 &&
        !(m.state[p] === FRAME_HEAD && m.folioType[p] === FOLIO_TYPE_HUGETLB)
      ) {
        // HPageTemporary lives in a hugetlb folio's private flags: only on one in use
        // (free_huge_page takes a temporary folio out of the pool, never enqueues it).
        bad.add(`pfn ${p} is marked temporary but is not a hugetlb folio in use`);
      }
    }
    // surplus_huge_pages_node only goes below 0 by a bug. It is not bounded by
    // nr_huge_pages_node minus the temporary pages: shrinking the pool
    // (set_max_huge_pages -> adjust_pool_surplus) counts a temporary page as persistent
    // and may turn it into surplus, and move_hugetlb_state then moves one more surplus
    // count onto the destination's node. The model has no pool resizing, but a state the
    // kernel can reach is not reported.
    if (m.surplusHugePages[nid]! < 0) {
      bad.add(`node ${nid}: surplus_huge_pages ${m.surplusHugePages[nid]} is negative`);
    }
    let count = 0;
    let prev = -1;
    for (let p = m.hugeFreeHead[nid]!; p >= 0; p = m.next[p]!) {
      if (count > pooled) {
        bad.add(`node ${nid}: hugetlb free list longer than the pooled folios (or a loop)`);
        break;
      }
      if (m.state[p] !== FRAME_POOL_HEAD || m.nid[p] !== nid) {
        bad.add(`node ${nid}: pfn ${p} on the hugetlb free list is not a pooled folio of the node`);
      }
      if (m.prev[p] !== prev)
        bad.add(
          `node ${nid}: hugetlb free list entry ${p} has prev ${m.prev[p]}, expected ${prev}`,
        );
      prev = p;
      count++;
    }
    if (count !== pooled)
      bad.add(`node ${nid}: ${pooled} pooled hugetlb folios but ${count} on the free list`);
    if (m.freeHugePages[nid] !== count) {
      bad.add(`node ${nid}: free_huge_pages ${m.freeHugePages[nid]} but ${count} free`);
    }
    if (m.nrHugePages[nid] !== pooled + inUse) {
      bad.add(
        `node ${nid}: nr_huge_pages ${m.nrHugePages[nid]} but ${pooled} free + ${inUse} in use`,
      );
    }
  }
  // resv_huge_pages counts free pool pages promised to mappings (hugetlb_acct_memory only
  // reserves what gather_surplus_pages found free; an allocation against a reservation
  // takes one of them and drops the count with it), so it never exceeds the free pages.
  let free = 0;
  for (let nid = 0; nid < m.freeHugePages.length; nid++) free += m.freeHugePages[nid]!;
  if (m.resvHugePages < 0 || m.resvHugePages > free) {
    bad.add(`resv_huge_pages ${m.resvHugePages} is outside [0, ${free} free hugetlb pages]`);
  }
}

function checkFolioLists(m: Memmap, bad: Problems): void {
  const counts = new Map<FolioList, number>();
  for (let nid = 0; nid < m.nrNodes; nid++) {
    checkFolioListsIn(m, m.nodeStart[nid]!, m.nodeEnd[nid]!, counts, bad);
  }
  for (const [list, count] of counts) {
    if (list.size !== count)
      bad.add(`a folio list has size ${list.size} but ${count} folios point at it`);
  }
}

/** `checkFolioLists` over the frames [start, end) of one node, counting into `counts`. */
function checkFolioListsIn(
  m: Memmap,
  start: number,
  end: number,
  counts: Map<FolioList, number>,
  bad: Problems,
): void {
  for (let p = start; p < end; p++) {
    const id = m.listId[p]!;
    if (id === 0) continue;
    const owner = listOwnerOf(m, p);
    if (owner === null) {
      bad.add(`pfn ${p} names folio list ${id}, which no list holds`);
      continue;
    }
    if (m.state[p] !== FRAME_HEAD) {
      bad.add(`pfn ${p} is on a folio list but is not a live folio head`);
      continue;
    }
    counts.set(owner, (counts.get(owner) ?? 0) + 1);
    const next = m.next[p]!;
    const prev = m.prev[p]!;
    if (next >= 0 && (m.listId[next] !== id || m.prev[next] !== p)) {
      bad.add(`folio list link broken after folio ${p}`);
    }
    if (prev >= 0 && (m.listId[prev] !== id || m.next[prev] !== p)) {
      bad.add(`folio list link broken before folio ${p}`);
    }
    if (prev < 0 && owner.first() !== p)
      bad.add(`folio ${p} has no prev but is not its list's first`);
    if (next < 0 && owner.last() !== p)
      bad.add(`folio ${p} has no next but is not its list's last`);
  }
}

function checkZeroPage(m: Memmap, bad: Problems): void {
  const z = m.zeroPfn;
  if (m.state[z] !== FRAME_HEAD || m.order[z] !== 0 || (m.flags[z]! & (1 << PG_reserved)) === 0) {
    bad.add(`the zero page ${z} is not a reserved order-0 frame`);
  }
  if (m.content[z] !== 0) bad.add(`the zero page ${z} has content ${m.content[z]}, not 0`);
  if (m.nid[z] !== 0) bad.add(`the zero page ${z} is not on node 0`);
  if (m.refcount[z]! < 1) bad.add(`the zero page ${z} lost its base reference`);
}
