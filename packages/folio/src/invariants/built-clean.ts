import { BUILT_EPOCH, type Memmap, memmapOf } from '../memmap.js';
import { createPhysicalMemory, type PhysicalMemoryConfig } from '../physical-memory.js';
import { nodeUsedAt, walkRecord } from './chunk-summary.js';

/**
 * What a sound pass of the memory-map check records (`walkRecord`) on a machine just built
 * from one configuration: its chunk words and node counts, list sums, pageblock kinds and
 * free counters. Every machine built from a configuration frozen all through is, when
 * `createPhysicalMemory` hands it out, the same memory map (the same nodes, buddy blocks,
 * hugetlb pools and zero page; a recycled machine equals a fresh one), so one record
 * serves them all.
 */
interface BuiltRecord {
  readonly words: Int32Array;
  readonly lists: Int32Array;
  readonly kinds: Uint8Array | null;
  readonly freeCounts: Float64Array;
}

/** The record of a just-built machine, by its frozen configuration (null: none to take). */
const builtRecords = new WeakMap<object, BuiltRecord | null>();

/**
 * Takes the memory map `m` as `createPhysicalMemory` built it for found sound, when no
 * pass of the check has run on it yet: loads into its walk record what a full pass found
 * on a machine built from the same configuration (made and checked once per configuration,
 * on a machine of its own) and sets `soundEpoch` to `BUILT_EPOCH`, so that the next
 * incremental pass reads only the chunks a writer stamped since the build. Returns false,
 * changing nothing, for a machine built from a configuration that is not frozen, one
 * already checked or one whose build the full pass did not find sound.
 *
 * What this trusts: that nothing wrote to the memory map since the build but through the
 * package's writers (which stamp what they change). A write straight into the arrays
 * before the first check is then found only by a full check (the end check): the promise
 * of every incremental pass after a sound one, moved back to the build.
 *
 * `pass` is the check's walk (`physicalMemoryLooksSound`), run on the configuration's own
 * machine to make its record.
 */
export function takeBuiltClean(m: Memmap, pass: (m: Memmap) => boolean): boolean {
  const config = m.builtFrom;
  if (config === null || m.soundEpoch !== 0 || m.writeEpoch !== BUILT_EPOCH) return false;
  let built = builtRecords.get(config);
  if (built === undefined) {
    built = recordOfBuild(config as PhysicalMemoryConfig, pass);
    builtRecords.set(config, built);
  }
  if (built === null) return false;
  const r = walkRecord(m);
  if (r.words.length !== built.words.length || r.freeCounts.length !== built.freeCounts.length) {
    return false;
  }
  r.words.set(built.words);
  if (r.lists.length < built.lists.length) r.lists = new Int32Array(built.lists.length);
  r.lists.fill(0);
  r.lists.set(built.lists);
  r.kinds = built.kinds === null ? null : built.kinds.slice();
  r.freeCounts.set(built.freeCounts);
  r.valid = true;
  m.soundEpoch = BUILT_EPOCH;
  return true;
}

/** A full pass on a machine of its own, built from `config`: its record, or null. */
function recordOfBuild(
  config: PhysicalMemoryConfig,
  pass: (m: Memmap) => boolean,
): BuiltRecord | null {
  const m = memmapOf(createPhysicalMemory(config));
  if (m.builtFrom !== config || !pass(m)) return null;
  const r = walkRecord(m);
  const words = r.words.slice();
  // The sound epoch the record stands for: the build's.
  words[nodeUsedAt(m)] = BUILT_EPOCH;
  return {
    words,
    lists: r.lists.slice(),
    kinds: r.kinds === null ? null : r.kinds.slice(),
    freeCounts: r.freeCounts.slice(),
  };
}
