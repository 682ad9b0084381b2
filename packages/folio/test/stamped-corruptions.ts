import { physicalMemoryLooksSound } from '../src/internal.js';
import { type Memmap, markWritten } from '../src/memmap.js';
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
 * incremental pass's verdict with the full one's. `orders` are the values an `order` field may
 * take besides its neighbours.
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
    }
  }
  return { disagreements, unsound };
}
