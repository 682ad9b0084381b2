import { describe, expect, test } from 'vitest';
import { NodeStat, VmEvent, VmStat } from '../src/index.js';

describe('VmStat in a buffer it is given', () => {
  test('keeps every node item and event in it, apart from each other, as a VmStat of its own', () => {
    const buffer = new ArrayBuffer(VmStat.bufferBytes(2));
    const given = new VmStat(2, buffer);
    const own = new VmStat(2);
    for (const v of [given, own]) {
      v.modNodePageState(1, NodeStat.NR_ISOLATED_ANON, 3);
      v.modNodePageState(0, NodeStat.NR_ISOLATED_ANON, 1);
      v.countVmEvents(VmEvent.PGMIGRATE_SUCCESS, 5);
    }
    expect(given.entries()).toEqual(own.entries());
    expect(given.nodeEntries(1)).toEqual(own.nodeEntries(1));
    // The counters are the buffer's: 9 in all, nothing else written.
    expect(new Float64Array(buffer).reduce((s, x) => s + x, 0)).toBe(9);
  });

  test('refuses a buffer too small or not a buffer (INVALID_ARGUMENT)', () => {
    const bytes = VmStat.bufferBytes(2);
    expect(VmStat.bufferBytes(3)).toBeGreaterThan(bytes);
    expect(() => new VmStat(2, new ArrayBuffer(bytes - 8))).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => new VmStat(2, new Float64Array(bytes / 8) as unknown as ArrayBuffer)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(() => new VmStat(2, new ArrayBuffer(bytes + 64))).not.toThrow();
  });
});
