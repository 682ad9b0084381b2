import { describe, expect, test } from 'vitest';
import { byteWords } from '../src/index.js';

describe('byteWords', () => {
  test('views the same bytes as words of four and eight', () => {
    const bytes = new Uint8Array(new ArrayBuffer(40), 8, 24);
    bytes.set([1, 1, 1, 1, 1, 1, 1, 1], 8);
    bytes[20] = 7;
    const { words, wide } = byteWords(bytes);
    expect(words?.length).toBe(6);
    expect(wide?.length).toBe(3);
    expect(wide![0]).toBe(0);
    expect(wide![1]).toBe(new Float64Array(new Uint8Array(8).fill(1).buffer)[0]);
    expect(words![5]).toBe(new Uint32Array(new Uint8Array([7, 0, 0, 0]).buffer)[0]);
    // A write to the bytes shows through: the views are of the array, not a copy.
    bytes[0] = 2;
    expect(wide![0]).not.toBe(0);
  });

  test('gives the kept views back for the same bytes, new ones for other bytes', () => {
    const buffer = new ArrayBuffer(64);
    const a = new Uint8Array(buffer, 0, 32);
    const first = byteWords(a);
    // Another array on the same bytes (a recycled machine's): the same views.
    expect(byteWords(new Uint8Array(buffer, 0, 32))).toBe(first);
    // Same buffer, other place or length; another buffer: views of their own bytes.
    const shifted = byteWords(new Uint8Array(buffer, 32, 32));
    expect(shifted).not.toBe(first);
    expect(shifted.wide!.byteOffset).toBe(32);
    const shorter = byteWords(new Uint8Array(buffer, 0, 16));
    expect(shorter.wide!.length).toBe(2);
    const other = new Uint8Array(32);
    other[0] = 1;
    expect(byteWords(other).wide![0]).not.toBe(0);
    expect(byteWords(a).wide![0]).toBe(0);
  });

  test('null where the array does not start on a word boundary', () => {
    const buffer = new ArrayBuffer(64);
    expect(byteWords(new Uint8Array(buffer, 4, 16)).wide).toBeNull();
    expect(byteWords(new Uint8Array(buffer, 4, 16)).words?.length).toBe(4);
    const odd = byteWords(new Uint8Array(buffer, 3, 16));
    expect(odd.words).toBeNull();
    expect(odd.wide).toBeNull();
  });
});
