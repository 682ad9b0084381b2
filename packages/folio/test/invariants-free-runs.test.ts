import { describe, expect, test } from 'vitest';
import { createPhysicalMemory } from '../src/index.js';
import { physicalMemoryLooksSound } from '../src/internal.js';
import {
  FRAME_BUDDY,
  type Memmap,
  markWritten,
  memmapOf,
  WRITE_CHUNK_SHIFT,
} from '../src/memmap.js';

/*
 * The memory-map check reads a free block's frames in runs of consecutive 16-frame chunks
 * (invariants/sound.ts, `freeFramesLookClean`): on an incremental pass the runs of chunks a
 * writer stamped since the last sound pass, on a full pass the whole block. Every pattern
 * of stamped chunks of a four-chunk block, with a frame made dirty at either end of each
 * chunk: the incremental pass finds it exactly when its chunk was stamped (an unstamped
 * chunk holds what the last sound pass found), the full pass always; with no corruption
 * both passes find the stamped map sound.
 */

const CHUNK = 1 << WRITE_CHUNK_SHIFT;

/** The first free block of 64 frames or more (four chunks) of `m`. */
function blockOf64(m: Memmap): number {
  for (let p = 0; p < m.maxPfn; p++) {
    if (m.state[p] === FRAME_BUDDY && m.order[p]! >= 6) return p;
  }
  throw new Error('no free block of 64 frames');
}

describe('free blocks read in runs of stamped chunks', () => {
  test('every stamp pattern of a four-chunk block: a dirty frame found where its chunk was stamped', () => {
    const m = memmapOf(createPhysicalMemory({ nodes: [{ pages: 256 }] }));
    const head = blockOf64(m);
    expect(head % CHUNK).toBe(0);
    let found = 0;
    for (let pattern = 0; pattern < 16; pattern++) {
      for (let chunk = 0; chunk < 4; chunk++) {
        for (const at of [head + chunk * CHUNK + 1, head + (chunk + 1) * CHUNK - 1]) {
          // A sound full pass to start from; then the writers' stamps of the pattern.
          expect(physicalMemoryLooksSound(m)).toBe(true);
          for (let k = 0; k < 4; k++)
            if ((pattern & (1 << k)) !== 0) markWritten(m, head + k * CHUNK);
          const old = m.mapcount[at]!;
          m.mapcount[at] = 1;
          const stamped = (pattern & (1 << chunk)) !== 0;
          const label = `pattern ${pattern}, frame ${at - head}`;
          expect(physicalMemoryLooksSound(m, true), label).toBe(!stamped);
          expect(physicalMemoryLooksSound(m), label).toBe(false);
          if (stamped) found++;
          m.mapcount[at] = old;
        }
      }
    }
    // Each chunk is stamped in half of the patterns, at both of its frames.
    expect(found).toBe(64);
  });

  test('every stamp pattern with no corruption: the incremental and the full pass find it sound', () => {
    const m = memmapOf(createPhysicalMemory({ nodes: [{ pages: 256 }] }));
    const head = blockOf64(m);
    for (let pattern = 0; pattern < 16; pattern++) {
      expect(physicalMemoryLooksSound(m)).toBe(true);
      for (let k = 0; k < 4; k++)
        if ((pattern & (1 << k)) !== 0) markWritten(m, head + k * CHUNK + 5);
      expect(physicalMemoryLooksSound(m, true), `pattern ${pattern}`).toBe(true);
      expect(physicalMemoryLooksSound(m, true), `pattern ${pattern}, again`).toBe(true);
    }
    expect(physicalMemoryLooksSound(m)).toBe(true);
  });
});
