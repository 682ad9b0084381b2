import { type Folio, PG_lru } from '@mmsim/folio';
import { memmapOf } from '@mmsim/folio/internal';
import { describe, expect, test } from 'vitest';
import { lruLooksSound, lruStateOf, reportLru } from '../src/internal.js';
import type { LruState } from '../src/lru-state.js';
import {
  anonFolio,
  createLruMachine,
  type LruMachine,
  onCpu,
  runScript,
} from '../src/testing/index.js';

/*
 * The step pass passes over an lru_add batch with nothing queued and no move in flight,
 * and reads an mlock_fbatch's detached entries even when it has none queued: a batch whose
 * queue is empty but whose move is in flight (`FolioBatch.detach`), or an mlock_fbatch
 * being drained, must still be tested folio by folio.
 */

interface Queued {
  readonly m: LruMachine;
  readonly s: LruState;
  readonly queued: Folio[];
}

/** Three folios queued in CPU 0's lru_add batch (CPU 1's is empty). */
function queuedOnCpu0(): Queued {
  const m = createLruMachine();
  const queued = [anonFolio(m.mem, 0), anonFolio(m.mem, 0), anonFolio(m.mem, 1)];
  runScript(m, function* () {
    yield* onCpu(m.rt, 0, function* () {
      for (const f of queued) yield* m.lru.folioAddLru(f);
    });
  });
  return { m, s: lruStateOf(m.lru.view), queued };
}

function verdict(s: LruState): { sound: boolean; report: string[] } {
  return { sound: lruLooksSound(s, false), report: reportLru(s, { scanMemory: false }) };
}

describe('empty batches in the LRU step pass', () => {
  test('a move in flight with an empty queue: each detached folio is tested', () => {
    const { m, s, queued } = queuedOnCpu0();
    const b = s.batches[0]!;
    expect(b.detach()).toBe(3);
    expect(b.nr).toBe(0);
    // A move that has not yet put anything on the LRU: legal.
    expect(verdict(s)).toEqual({ sound: true, report: [] });
    const flags = memmapOf(m.mem).flags;
    for (const f of queued) {
      flags[f]! |= 1 << PG_lru;
      const v = verdict(s);
      expect(v.report.join('\n')).toContain(`folio ${f} has PG_lru set`);
      expect(v.sound).toBe(false);
      flags[f]! &= ~(1 << PG_lru);
    }
    // Past drainPos a folio is no longer the batch's: its flag is not the batch's business,
    // and the last one met twice (also queued on CPU 1) is found only while it is pending.
    b.drainPos = 3;
    s.batches[1]!.add(queued[2]!);
    expect(verdict(s)).toEqual({ sound: true, report: [] });
    b.drainPos = 2;
    const twice = verdict(s);
    expect(twice.report.join('\n')).toContain(`folio ${queued[2]} is both on`);
    expect(twice.sound).toBe(false);
  });

  test('an mlock_fbatch with no queued entries but a drain in flight: its entries are tested', () => {
    const { s, queued } = queuedOnCpu0();
    const mb = s.mlockBatches[1]!;
    expect(mb.entries).toEqual([]);
    // An entry of a live folio holding a reference: legal.
    mb.inFlight.push([queued[0]! * 4 + 1]);
    expect(verdict(s)).toEqual({ sound: true, report: [] });
    // An entry of a frame that is no folio (a free frame).
    const free = queued[2]! + 1;
    mb.inFlight.push([free * 4 + 1]);
    const v = verdict(s);
    expect(v.report.join('\n')).toContain(`folio ${free} is not a live folio`);
    expect(v.sound).toBe(false);
    mb.inFlight.pop();
    expect(verdict(s).sound).toBe(true);
  });
});
