import { MmsimError, type MmsimErrorCode } from '@mmsim/runtime';
import { expect } from 'vitest';
import { checkPhysicalMemory, type PhysicalMemory } from '../src/index.js';
import { physicalMemoryLooksSound, reportPhysicalMemory } from '../src/internal.js';
import { markWritten, memmapOf } from '../src/memmap.js';

/** A deep copy of every array and counter of the model, to prove a call changed nothing. */
export function snapshot(mem: PhysicalMemory): Record<string, unknown> {
  const m = memmapOf(mem);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(m)) {
    if (ArrayBuffer.isView(value)) out[key] = Array.from(value as unknown as ArrayLike<number>);
    else if (Array.isArray(value))
      out[key] = value.map((v) =>
        ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : v,
      );
    else out[key] = value;
  }
  return out;
}

/**
 * The whole memory map as `snapshot` gives it, in a form two machines can be compared by:
 * the stamped chunks as a sorted set (the order they were stamped in is not part of the
 * state) and the folio lists as present or not. Each field is a JSON string, because a deep
 * comparison of a few dozen arrays of thousands of frames is slow.
 */
export function comparableMemmap(mem: PhysicalMemory): Record<string, string> {
  const s = snapshot(mem);
  const m = memmapOf(mem);
  const dirty = m.dirtyChunks === null ? [] : Array.from(m.dirtyChunks.subarray(0, m.nrDirty));
  s.dirtyChunks = [...new Set(dirty)].sort((a, b) => a - b);
  s.nrDirty = null;
  s.lists = (s.lists as unknown[]).map((l) => l !== null);
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(s)) out[key] = JSON.stringify(value) ?? 'undefined';
  return out;
}

/**
 * Runs `fn`, expects it to throw an MmsimError with `code` (and a message matching
 * `message` when given), and expects the model to be exactly as before.
 */
export function expectMisuse(
  mem: PhysicalMemory,
  fn: () => unknown,
  code: MmsimErrorCode,
  message?: RegExp,
): void {
  const before = snapshot(mem);
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected the call to throw').toBeInstanceOf(MmsimError);
  const err = thrown as MmsimError;
  expect(err.code, err.message).toBe(code);
  if (message) expect(err.message).toMatch(message);
  expect(snapshot(mem)).toEqual(before);
}

/** Expects the invariant checker to find nothing. */
export function expectSound(mem: PhysicalMemory): void {
  expect(checkPhysicalMemory(mem)).toEqual([]);
}

/** Runs `fn` (which must not throw), expects the model unchanged, and returns its result. */
export function unchanged<T>(mem: PhysicalMemory, fn: () => T): T {
  const before = snapshot(mem);
  const result = fn();
  expect(snapshot(mem)).toEqual(before);
  return result;
}

/**
 * Writes `bad` into frame `b` of `array` (one of the memory map's per-frame arrays) and marks
 * the frame written: the report and the incremental fast check must both find it. Put back and
 * marked again, the fast check passes, and the pass after that sound one passes too.
 */
export function expectMarkedWriteFound(
  mem: PhysicalMemory,
  array: Int8Array | Int16Array | Int32Array | Uint8Array | Float64Array,
  b: number,
  bad: number,
  label: string,
): void {
  const m = memmapOf(mem);
  const old = array[b]!;
  array[b] = bad;
  markWritten(m, b);
  expect(reportPhysicalMemory(mem).length === 0, label).toBe(false);
  expect(physicalMemoryLooksSound(m, true), label).toBe(false);
  array[b] = old;
  markWritten(m, b);
  expect(physicalMemoryLooksSound(m, true)).toBe(true);
  expect(physicalMemoryLooksSound(m, true)).toBe(true);
}
