import { describe, expect, test } from 'vitest';
import { createPhysicalMemory, folioAlloc, type PhysicalMemoryConfig } from '../src/index.js';
import { physicalMemoryLooksSound, reportPhysicalMemory } from '../src/internal.js';
import { takeBuiltClean } from '../src/invariants/built-clean.js';
import { walkRecord } from '../src/invariants/chunk-summary.js';
import { BUILT_EPOCH, type Memmap, markWritten, memmapOf } from '../src/memmap.js';

/*
 * The pass that takes a machine as built starts from the build's sound epoch with no walk
 * record: it walks every block, reads the frames of the chunks stamped since the build only,
 * and records the walk for the passes after it. One node of 1,024 frames: the zero page at
 * frame 0, then free buddy blocks of growing order up to frames 512 to 1,023.
 */
const TINY: PhysicalMemoryConfig = Object.freeze({
  nodes: Object.freeze([Object.freeze({ pages: 1024 })]),
});

function fullPass(m: Memmap): boolean {
  return physicalMemoryLooksSound(m, false);
}

describe('the first pass on a machine taken as built, with no record of the build', () => {
  test('the build sound epoch and no valid record; the pass leaves one the next pass takes', () => {
    const m = memmapOf(createPhysicalMemory(TINY));
    markWritten(m, 600);
    expect(takeBuiltClean(m, fullPass)).toBe(true);
    expect([walkRecord(m).valid, m.soundEpoch]).toEqual([false, BUILT_EPOCH]);
    // Taken once: a second call changes nothing.
    expect(takeBuiltClean(m, fullPass)).toBe(false);
    expect(physicalMemoryLooksSound(m, true)).toBe(true);
    expect([walkRecord(m).valid, m.soundEpoch]).toEqual([true, BUILT_EPOCH + 1]);
    // What the next pass takes from the record: an unstamped free frame written raw is not
    // read; a stamped one is.
    m.refcount[700] = 1;
    expect(physicalMemoryLooksSound(m, true)).toBe(true);
    markWritten(m, 700);
    expect(physicalMemoryLooksSound(m, true)).toBe(false);
  });

  test('every chunk stamped in turn, a stamped corruption in it or none: the report verdict', () => {
    let unsound = 0;
    let sound = 0;
    for (let c = 0; c < 64; c++) {
      for (const field of [null, 'refcount', 'state', 'listId', 'mapcount'] as const) {
        const mem = createPhysicalMemory(TINY);
        const m = memmapOf(mem);
        // A live folio made after the build (frame 1, chunk 0), then the chunk's last frame.
        const f = folioAlloc(mem, 0, 0);
        expect(f).toBe(1);
        const at = c * 16 + 15;
        if (field !== null) m[field][at] = m[field][at]! + 1;
        markWritten(m, at);
        const label = `chunk ${c}, ${field ?? 'no'} corruption`;
        const want = reportPhysicalMemory(mem).length === 0;
        expect(want, label).toBe(field === null);
        expect(physicalMemoryLooksSound(m, true, true), label).toBe(want);
        if (!want) {
          unsound++;
          continue;
        }
        sound++;
        // The record the pass left carries on: a later write and corruption are found.
        m.mapcount[f] = 5;
        markWritten(m, f);
        expect(physicalMemoryLooksSound(m, true), label).toBe(false);
        m.mapcount[f] = 0;
        markWritten(m, f);
        expect(physicalMemoryLooksSound(m, true), label).toBe(true);
      }
    }
    expect([unsound, sound]).toEqual([256, 64]);
  });
});
