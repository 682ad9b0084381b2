import { expect } from 'vitest';
import { folioPagesByNode, type PhysicalMemory } from '../src/index.js';
import { physicalMemoryLooksSound } from '../src/internal.js';
import { type Memmap, markWritten, memmapOf } from '../src/memmap.js';
import { seededRandom } from './rich-memory.js';

/** What `stampedCorruptions` found. */
export interface StampedCorruptions {
  /** The trials where the incremental verdict differed from the full one. */
  readonly disagreements: string[];
  /** The trials whose corrupted state the full check calls unsound. */
  readonly unsound: number;
}

/**
 * `trials` one-field corruptions as a writer makes them: each trial takes a sound memory map
 * from `build(trial)` (which runs whatever passes it needs first), writes another value into
 * one of `fields` at a random frame, stamps its chunk (`markWritten`), and compares the
 * incremental pass's verdict with the full one's, and on a sound map the incremental
 * `folioPagesByNode` with the full walk. `orders` are the values an `order` field may take
 * besides its neighbours.
 */
export function stampedCorruptions(
  seed: number,
  trials: number,
  fields: readonly (keyof Memmap)[],
  orders: readonly number[],
  build: (trial: number) => Memmap,
): StampedCorruptions {
  const next = seededRandom(seed);
  const disagreements: string[] = [];
  let unsound = 0;
  for (let trial = 0; trial < trials; trial++) {
    const m = build(trial);
    const field = fields[Math.floor(next() * fields.length)]!;
    const array = m[field] as unknown as Float64Array;
    const at = Math.floor(next() * m.maxPfn);
    const old = array[at]!;
    const choices =
      field === 'order'
        ? [old + 1, Math.max(old - 1, 0), ...orders]
        : [old + 1, old - 1, 0, 1, 2, -1, Math.floor(next() * m.maxPfn)];
    array[at] = choices[Math.floor(next() * choices.length)]!;
    if (array[at] === old) continue;
    markWritten(m, at);
    const incremental = physicalMemoryLooksSound(m, true);
    const full = physicalMemoryLooksSound(m);
    if (!full) unsound++;
    if (incremental !== full) {
      disagreements.push(`trial ${trial}: ${String(field)}[${at}] ${old} -> ${array[at]}`);
    } else if (full && !samePagesByNode(m, at)) {
      disagreements.push(`trial ${trial}: folioPagesByNode after ${String(field)}[${at}]`);
    }
  }
  return { disagreements, unsound };
}

/**
 * Whether `folioPagesByNode`'s incremental count equals the full walk's on a memory map a
 * sound pass just read: once as that pass left it (the counts it recorded), once after a
 * harmless stamp on frame `stamp` (the walk over the chunks stamped since).
 */
function samePagesByNode(m: Memmap, stamp: number): boolean {
  const mem = m as unknown as PhysicalMemory;
  const full = new Float64Array(m.nrNodes);
  const incremental = new Float64Array(m.nrNodes);
  folioPagesByNode(mem, full);
  folioPagesByNode(mem, incremental, true);
  if (full.join() !== incremental.join()) return false;
  markWritten(m, stamp);
  folioPagesByNode(mem, incremental, true);
  return full.join() === incremental.join();
}

/**
 * The check after one operation of a random walk: the incremental memory-map pass must give
 * the full pass's verdict, and on a sound map the incremental `folioPagesByNode` the full
 * walk's counts (as the pass left the map and after a stamp on frame `stamp`). Returns the
 * full verdict (false: the walk found its corruption and should stop).
 */
export function expectFullVerdict(mem: PhysicalMemory, stamp: number, label: string): boolean {
  const m = memmapOf(mem);
  const incremental = physicalMemoryLooksSound(m, true);
  const full = physicalMemoryLooksSound(m);
  expect(incremental, label).toBe(full);
  if (full) expect(samePagesByNode(m, stamp), label).toBe(true);
  return full;
}
