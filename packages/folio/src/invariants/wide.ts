import { FRAME_FREE, type Memmap } from '../memmap.js';

/**
 * Wider reads of the memory map's per-frame arrays, for the memory-map check's tests that a
 * run of frames holds zeros: the frames of a free buddy block (no flag, refcount, mapcount,
 * mapping or folio list) and the holes between nodes (FRAME_HOLE, on no list). Those tests
 * read most of the frames a full pass reads (some 2,000 free frames on two 1,024-frame
 * nodes, 960 hole frames on the historic machines), one element of each array a frame.
 * Through a `Float64Array` on the same bytes a read covers two frames of a 4-byte array,
 * through an `Int32Array` four frames' states (eight through a `Float64Array`): the same
 * bytes are tested, in a quarter to a half of the reads.
 *
 * A float read is 0 for two bit patterns, +0 (all bits 0) and -0 (only the sign bit: the
 * higher frame of a pair holding 0x80000000, the lower 0): each such read is also tested
 * for -0 (`Object.is`, which V8 compiles to a compare of the 64 bits), so a pair passes
 * exactly when all of its 8 bytes are 0. A NaN is never 0. Nothing writes through these
 * views.
 *
 * Not a kernel structure: bookkeeping of the model's check (see `physicalMemoryLooksSound`).
 */
export interface WideViews {
  /** Two frames an element: `flags`, `refcount`, `mapcount`, `mappingId`, `listId`. */
  readonly flags: Float64Array;
  readonly refcount: Float64Array;
  readonly mapcount: Float64Array;
  readonly mappingId: Float64Array;
  readonly listId: Float64Array;
  /** Four frames' `state` an element. */
  readonly state4: Int32Array;
  /** Eight frames' `state` an element. */
  readonly state8: Float64Array;
  /** The memory map's own `flags` array these views were last checked against. */
  of: Uint32Array;
}

/** The views of the last memory map asked for (one machine at a time in an exploration). */
let cached: WideViews | null = null;
/** The one buffer all the arrays of the cached views lie in (null: several), and their frames. */
let cachedBuffer: ArrayBufferLike | null = null;
let cachedFrames = 0;

/**
 * The wide views of `m`'s arrays, or null when one of them does not start on an 8-byte
 * boundary (a machine of an odd number of frames puts some of its 4-byte arrays there).
 *
 * Kept from one machine to the next while they lie on the same bytes: an explorer's
 * machines take the same recycled frames buffer one after the other. That is told without
 * reading each array's buffer and offset (typed-array getters V8 does not inline: some
 * 0.1 us each, once a machine): the memory map's constructor lays out every per-frame
 * array of a small machine in one buffer, in an order and at offsets set by its frame count
 * alone (memmap.ts, `FrameArrays`), so a machine whose `state` lies in the buffer the
 * cached views' arrays all lay in, with as many frames, has every array where they were.
 * A large machine's arrays have buffers of their own, new with each machine: its views are
 * made for it and kept with it (test/invariants-wide.test.ts checks both against the
 * arrays).
 */
export function wideViews(m: Memmap): WideViews | null {
  const c = cached;
  if (c !== null) {
    if (c.of === m.flags) return c;
    if (cachedBuffer !== null && m.maxPfn === cachedFrames && m.state.buffer === cachedBuffer) {
      c.of = m.flags;
      return c;
    }
  }
  const own = ownViews.get(m);
  if (own !== undefined) return own;
  const arrays = [m.flags, m.refcount, m.mapcount, m.mappingId, m.listId, m.state];
  let buffer: ArrayBufferLike | null = m.state.buffer;
  for (const a of arrays) {
    if (a.byteOffset % 8 !== 0) return null;
    if (a.buffer !== buffer) buffer = null;
  }
  const views: WideViews = {
    flags: pairs(m.flags),
    refcount: pairs(m.refcount),
    mapcount: pairs(m.mapcount),
    mappingId: pairs(m.mappingId),
    listId: pairs(m.listId),
    state4: new Int32Array(m.state.buffer, m.state.byteOffset, m.state.length >> 2),
    state8: new Float64Array(m.state.buffer, m.state.byteOffset, m.state.length >> 3),
    of: m.flags,
  };
  if (buffer === null) {
    // Arrays of their own: the views go with the machine (kept here, they would keep its
    // arrays alive after it).
    ownViews.set(m, views);
    return views;
  }
  cached = views;
  cachedBuffer = buffer;
  cachedFrames = m.maxPfn;
  return views;
}

/** The views of the machines whose arrays lie in buffers of their own (large machines). */
const ownViews = new WeakMap<Memmap, WideViews>();

function pairs(a: Int32Array | Uint32Array): Float64Array {
  return new Float64Array(a.buffer, a.byteOffset, a.length >> 1);
}

/** The `Int32Array` element of four frames' states, in the platform's byte order. */
function stateWord(first: number, others: number): number {
  const bytes = new Uint8Array([first, others, others, others]);
  return new Int32Array(bytes.buffer)[0]!;
}

/** Four free frames. */
const FREE4 = stateWord(FRAME_FREE, FRAME_FREE);
/** The bits of a word of four states but the first frame's (a block's first, FRAME_BUDDY). */
const NOT_FIRST = stateWord(0, 0xff);

/**
 * Whether frames [from, to) of a free buddy block whose first frame is `head` are clean:
 * each (but `head`) FRAME_FREE, and no flag, refcount, mapcount, mapping or folio list on
 * any. `from` and `to` are multiples of 4 inside the memory map (a block of four frames or
 * more, read whole or by 16-frame chunk).
 */
export function freeRunClean(w: WideViews, from: number, to: number, head: number): boolean {
  const flags = w.flags;
  const refcount = w.refcount;
  const mapcount = w.mapcount;
  const mappingId = w.mappingId;
  const listId = w.listId;
  const state4 = w.state4;
  let i = from >> 2;
  if (from === head) {
    if (((state4[i]! ^ FREE4) & NOT_FIRST) !== 0) return false;
    i++;
  }
  for (const stop = to >> 2; i < stop; i++) if (state4[i] !== FREE4) return false;
  for (let j = from >> 1, stop = to >> 1; j < stop; j++) {
    const a = flags[j]!;
    const b = refcount[j]!;
    const c = mapcount[j]!;
    const d = mappingId[j]!;
    const e = listId[j]!;
    if (a !== 0 || b !== 0 || c !== 0 || d !== 0 || e !== 0) return false;
    if (Object.is(a, -0) || Object.is(b, -0) || Object.is(c, -0)) return false;
    if (Object.is(d, -0) || Object.is(e, -0)) return false;
  }
  return true;
}

/**
 * Whether frames [from, to) of the memory map are holes on no folio list (state FRAME_HOLE,
 * which is 0, and list id 0); `from` and `to` are any frames, the frames outside whole words read one by one.
 */
export function holeRunClean(m: Memmap, w: WideViews, from: number, to: number): boolean {
  const state = m.state;
  const list = m.listId;
  // The frames read one element each: those before the first 8-frame word and after the
  // last (all of them in a run of less than a word).
  const first = Math.min((from + 7) & ~7, to);
  const last = Math.max(to & ~7, first);
  for (let p = from; p < first; p++) if ((state[p]! | list[p]!) !== 0) return false;
  for (let p = last; p < to; p++) if ((state[p]! | list[p]!) !== 0) return false;
  const state8 = w.state8;
  for (let i = first >> 3, stop = last >> 3; i < stop; i++) {
    const s = state8[i]!;
    if (s !== 0 || Object.is(s, -0)) return false;
  }
  const listId = w.listId;
  for (let j = first >> 1, stop = last >> 1; j < stop; j++) {
    const l = listId[j]!;
    if (l !== 0 || Object.is(l, -0)) return false;
  }
  return true;
}
