import { describe, expect, test } from 'vitest';
import { lruStateOf } from '../src/internal.js';
import { createLruMachine } from '../src/testing/index.js';

/*
 * A CPU's lru_add batch makes its second array at its first move (`FolioBatch.detach`):
 * an append during a move must land in a fresh array, never in the one being moved, and
 * later moves swap the same two arrays.
 */
describe('the lru_add batch arrays', () => {
  test('an append during a move goes to another array; moves then swap the same two', () => {
    const m = createLruMachine();
    const b = lruStateOf(m.lru.view).batches[0]!;
    const first = b.folios;
    b.add(100);
    b.add(101);
    expect(b.detach()).toBe(2);
    expect(b.draining).toBe(first);
    const second = b.folios;
    expect(second).not.toBe(first);
    // A folio queued while the move is in flight.
    b.add(200);
    expect([...(b.draining as Int32Array).subarray(0, b.drainNr)]).toEqual([100, 101]);
    expect(b.nr).toBe(1);
    expect(b.folios[0]).toBe(200);
    b.finishDrain();
    expect(b.detach()).toBe(1);
    expect(b.draining).toBe(second);
    expect(b.folios).toBe(first);
    b.finishDrain();
    b.add(300);
    expect(b.detach()).toBe(1);
    expect(b.draining).toBe(first);
    expect(b.folios).toBe(second);
  });
});
