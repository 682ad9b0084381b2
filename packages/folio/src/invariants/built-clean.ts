import { BUILT_EPOCH, type Memmap, memmapOf } from '../memmap.js';
import { createPhysicalMemory, type PhysicalMemoryConfig } from '../physical-memory.js';
import { walkRecord } from './chunk-summary.js';

/**
 * Whether a full pass of the memory-map check found sound a machine just built from a
 * configuration, by that configuration (made once per configuration, on a machine of its
 * own). Every machine built from a configuration frozen all through is, when
 * `createPhysicalMemory` hands it out, the same memory map (the same nodes, buddy blocks,
 * hugetlb pools and zero page; a recycled machine equals a fresh one), so one verdict
 * serves them all.
 */
const builtSound = new WeakMap<object, boolean>();

/**
 * Takes the memory map `m` as `createPhysicalMemory` built it for found sound, when no
 * pass of the check has run on it yet: sets `soundEpoch` to `BUILT_EPOCH` when a full pass
 * found a machine built from the same configuration sound, so that the next incremental
 * pass reads only the frames of the chunks a writer stamped since the build. Returns false,
 * changing nothing, for a machine built from a configuration that is not frozen, one
 * already checked or one whose build the full pass did not find sound.
 *
 * That pass starts with no walk record (`WalkRecord.valid` off): it walks every block of
 * every node, reading the frames of the stamped chunks only (the others are as built), and
 * records the walk afresh. Loading the record of the build's pass instead, to skip its
 * unstamped segments, cost more than it spared: copying the record and taking the segments
 * walked again out of its sums took longer than walking the unstamped blocks, which reads a
 * chunk stamp or two each (see docs/performance.md, "The first memory-map check of a
 * machine without the build's record").
 *
 * What this trusts: that nothing wrote to the memory map since the build but through the
 * package's writers (which stamp what they change). A write straight into the arrays
 * before the first check is then found only by a full check (the end check): the promise
 * of every incremental pass after a sound one, moved back to the build.
 *
 * `pass` is the check's walk (`physicalMemoryLooksSound`), run on the configuration's own
 * machine to find its verdict.
 */
export function takeBuiltClean(m: Memmap, pass: (m: Memmap) => boolean): boolean {
  const config = m.builtFrom;
  if (config === null || m.soundEpoch !== 0 || m.writeEpoch !== BUILT_EPOCH) return false;
  let sound = builtSound.get(config);
  if (sound === undefined) {
    sound = buildLooksSound(config as PhysicalMemoryConfig, pass);
    builtSound.set(config, sound);
  }
  if (!sound) return false;
  walkRecord(m).valid = false;
  m.soundEpoch = BUILT_EPOCH;
  return true;
}

/** A full pass on a machine of its own, built from `config`. */
function buildLooksSound(config: PhysicalMemoryConfig, pass: (m: Memmap) => boolean): boolean {
  const m = memmapOf(createPhysicalMemory(config));
  return m.builtFrom === config && pass(m);
}
