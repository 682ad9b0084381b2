import {
  byteWords,
  type Folio,
  FRAME_FREE,
  FRAME_HEAD,
  FRAME_TAIL,
  type FrameView,
  folioNrPages,
  frameView,
  nodeSpannedPages,
  nodeStartPfn,
  type PhysicalMemory,
} from '@mmsim/folio';

/**
 * Eight free frames' states read as one float64 word (bytes 0x01: a normal number, equal
 * only to that bit pattern).
 */
const FREE_WORD = new Float64Array(new Uint8Array(8).fill(FRAME_FREE).buffer)[0] as number;
/** A 1 in each byte of a 32-bit word (times a state: four frames in that state). */
const BYTES = 0x01010101;
/** The top bit of each byte of a 32-bit word. */
const HIGH_BITS = 0x80808080;
const HEADS = FRAME_HEAD * BYTES;
const TAILS = FRAME_TAIL * BYTES;

/**
 * Whether any of the four frames whose states `w` holds (a 32-bit word) is a head or a
 * tail: a byte of `w ^ HEADS` or of `w ^ TAILS` is 0 (the borrow test below flags the
 * lowest zero byte of a word, and flags nothing in a word without one).
 */
function holdsHeadOrTail(w: number): boolean {
  const h = w ^ HEADS;
  const t = w ^ TAILS;
  return ((((h - BYTES) & ~h) | ((t - BYTES) & ~t)) & HIGH_BITS) !== 0;
}

/**
 * A walk over the heads of the allocated folios of a machine, node by node in pfn order:
 * `first()`, then `next(folio)` after each, until -1. It visits a head (and jumps past its
 * pages), and a tail that names itself as its head (which `pfnFolio` takes for a folio:
 * the caller's accessors throw on it, and so does `next`, through `folioNrPages`, as the
 * frame-by-frame walk did after visiting it); every other frame of a node (free, pooled, offline, another tail) is stepped
 * over. Only the nodes' pfn ranges are walked: the frames between one node's end and the
 * next node's aligned start are holes (`createPhysicalMemory`), which `memmap-consistent`
 * checks, so a scan of the holes here would only repeat that check (on the 64-page nodes
 * of the historic scenarios, the holes are seven eighths of the pfns).
 *
 * The walk reads every frame's state of the nodes, so it visits exactly the frames the
 * frame-by-frame walk visited, a head or tail written into a free block included; it reads
 * them a word at a time where they line up: eight free frames at once (`FREE_WORD`), else
 * four frames of which none is a head or a tail (a free block's first frame, pooled or
 * offline frames, holes). (Jumping over a free block by its first frame's order would be
 * cheaper still, but would trust the order: a head inside a block with a corrupt order
 * would go unseen by this walk, and be found only by `memmap-consistent`.) On the
 * split-lock-deadlock machine (2,048 frames, nearly all free, a handful of folios), the
 * frame-by-frame walk was most of both end checks' cost.
 */
export class FolioWalk {
  readonly #mem: PhysicalMemory;
  readonly #view: FrameView;
  readonly #state: Uint8Array;
  /** The states as words of four frames (null where they do not line up). */
  readonly #words: Uint32Array | null;
  /** The states as words of eight frames (null where they do not line up). */
  readonly #wide: Float64Array | null;
  #nid = 0;
  #end = 0;

  constructor(mem: PhysicalMemory) {
    this.#mem = mem;
    this.#view = frameView(mem);
    const state = this.#view.state;
    this.#state = state;
    const views = byteWords(state);
    this.#words = views.words;
    this.#wide = views.wide;
  }

  /** The first folio of the machine, or -1. */
  first(): Folio {
    this.#nid = -1;
    return this.#nextNode();
  }

  /**
   * The folio after `folio` (which `first` or `next` gave), or -1: past its pages (from its
   * order; `folioNrPages`, which throws, for a tail taken for a folio), to the next visited
   * frame.
   */
  next(folio: Folio): Folio {
    const pfn =
      this.#state[folio] === FRAME_HEAD
        ? folio + (1 << this.#view.order[folio]!)
        : folio + folioNrPages(this.#mem, folio);
    const found = this.#scan(pfn, this.#end);
    return found >= 0 ? found : this.#nextNode();
  }

  /** The first visited frame of the nodes after the current one, or -1. */
  #nextNode(): Folio {
    const mem = this.#mem;
    for (let nid = this.#nid + 1; nid < mem.nrNodes; nid++) {
      const start = nodeStartPfn(mem, nid);
      const end = start + nodeSpannedPages(mem, nid);
      this.#nid = nid;
      this.#end = end;
      const found = this.#scan(start, end);
      if (found >= 0) return found;
    }
    this.#nid = mem.nrNodes;
    return -1;
  }

  /** The first head, or tail that names itself as its head, in [pfn, end); -1 if none. */
  #scan(pfn: number, end: number): Folio {
    const state = this.#state;
    const words = this.#words;
    const wide = this.#wide;
    const headOf = this.#view.headOf;
    while (pfn < end) {
      if (wide !== null && (pfn & 7) === 0 && pfn + 8 <= end && wide[pfn >>> 3] === FREE_WORD) {
        pfn += 8;
        continue;
      }
      if (
        words !== null &&
        (pfn & 3) === 0 &&
        pfn + 4 <= end &&
        !holdsHeadOrTail(words[pfn >>> 2]!)
      ) {
        pfn += 4;
        continue;
      }
      const s = state[pfn];
      if (s === FRAME_HEAD || (s === FRAME_TAIL && headOf[pfn] === pfn)) return pfn;
      pfn++;
    }
    return -1;
  }
}

/**
 * Calls `fn` for the head of every allocated folio (free and pooled frames are skipped),
 * in the order of `FolioWalk`, which it uses: for callers that are not on a hot path (the
 * end checks run the walk themselves, without a callback a folio).
 */
export function forEachFolio(mem: PhysicalMemory, fn: (folio: Folio) => void): void {
  const walk = new FolioWalk(mem);
  for (let folio = walk.first(); folio >= 0; folio = walk.next(folio)) fn(folio);
}
