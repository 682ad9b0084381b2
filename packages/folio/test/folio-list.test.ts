import { describe, expect, test } from 'vitest';
import {
  createPhysicalMemory,
  FolioList,
  folioAlloc,
  folioOnList,
  folioPut,
  type PhysicalMemory,
} from '../src/index.js';
import { expectMisuse, expectSound } from './helpers.js';

function setup(n: number): { mem: PhysicalMemory; f: number[] } {
  const mem = createPhysicalMemory({ nodes: [{ pages: 2048 }] });
  return { mem, f: Array.from({ length: n }, () => folioAlloc(mem, 0, 0)) };
}

describe('FolioList', () => {
  test('add puts at the front, addTail at the back', () => {
    const { mem, f } = setup(4);
    const list = new FolioList(mem);
    expect(list.isEmpty()).toBe(true);
    expect(list.first()).toBe(-1);
    list.add(f[0]!);
    list.add(f[1]!);
    list.addTail(f[2]!);
    list.add(f[3]!);
    expect(list.toArray()).toEqual([f[3], f[1], f[0], f[2]]);
    expect(list.size).toBe(4);
    expect(list.first()).toBe(f[3]);
    expect(list.last()).toBe(f[2]);
    expect(list.next(f[1]!)).toBe(f[0]);
    expect(list.prev(f[1]!)).toBe(f[3]);
    expect(list.next(f[2]!)).toBe(-1);
    expect(list.prev(f[3]!)).toBe(-1);
    expect(folioOnList(mem, f[0]!)).toBe(list);
    expectSound(mem);
  });

  test('del from the front, middle and back', () => {
    const { mem, f } = setup(5);
    const list = new FolioList(mem);
    for (const x of f) list.addTail(x);
    list.del(f[2]!);
    list.del(f[0]!);
    list.del(f[4]!);
    expect(list.toArray()).toEqual([f[1], f[3]]);
    expect(list.first()).toBe(f[1]);
    expect(list.last()).toBe(f[3]);
    expect(folioOnList(mem, f[2]!)).toBeNull();
    list.del(f[1]!);
    list.del(f[3]!);
    expect(list.isEmpty()).toBe(true);
    expect(list.first()).toBe(-1);
    expect(list.last()).toBe(-1);
    expectSound(mem);
  });

  test('addBefore inserts just before its position', () => {
    const { mem, f } = setup(4);
    const list = new FolioList(mem);
    list.addTail(f[0]!);
    list.addTail(f[1]!);
    list.addBefore(f[2]!, f[0]!);
    list.addBefore(f[3]!, f[1]!);
    expect(list.toArray()).toEqual([f[2], f[0], f[3], f[1]]);
    expectSound(mem);
  });

  test('moveTo and moveToTail take the folio off this list onto the front or back of another', () => {
    const { mem, f } = setup(5);
    const from = new FolioList(mem);
    const to = new FolioList(mem);
    for (const x of f.slice(0, 4)) from.addTail(x);
    to.add(f[4]!);
    from.moveTo(f[1]!, to);
    from.moveToTail(f[3]!, to);
    expect(from.toArray()).toEqual([f[0], f[2]]);
    expect(to.toArray()).toEqual([f[1], f[4], f[3]]);
    expect(folioOnList(mem, f[3]!)).toBe(to);
    // Moving within the same list reorders it.
    to.moveToTail(f[1]!, to);
    expect(to.toArray()).toEqual([f[4], f[3], f[1]]);
    expectSound(mem);
  });

  test('spliceInit goes to the front of the destination, spliceTailInit to the back, both in order', () => {
    const { mem, f } = setup(7);
    const a = new FolioList(mem);
    const b = new FolioList(mem);
    const c = new FolioList(mem);
    a.addTail(f[0]!);
    a.addTail(f[1]!);
    b.addTail(f[2]!);
    b.addTail(f[3]!);
    a.spliceInit(b);
    expect(b.toArray()).toEqual([f[0], f[1], f[2], f[3]]);
    expect(a.isEmpty()).toBe(true);
    c.addTail(f[4]!);
    c.addTail(f[5]!);
    c.spliceTailInit(b);
    expect(b.toArray()).toEqual([f[0], f[1], f[2], f[3], f[4], f[5]]);
    expect(b.size).toBe(6);
    expect(c.size).toBe(0);
    expect(folioOnList(mem, f[5]!)).toBe(b);
    // Splicing into an empty list, and splicing an empty list.
    b.spliceTailInit(a);
    expect(a.toArray()).toEqual([f[0], f[1], f[2], f[3], f[4], f[5]]);
    expect(a.last()).toBe(f[5]);
    b.spliceInit(a);
    expect(a.size).toBe(6);
    // The spliced folios can be used on the new list.
    a.del(f[5]!);
    a.addTail(f[6]!);
    expect(a.last()).toBe(f[6]);
    expectSound(mem);
  });

  test('safe iteration allows removing or moving the current folio', () => {
    const { mem, f } = setup(6);
    const list = new FolioList(mem);
    const odd = new FolioList(mem);
    for (const x of f) list.addTail(x);
    const seen: number[] = [];
    for (const folio of list) {
      seen.push(folio);
      if ((folio - f[0]!) % 2 === 1) list.moveToTail(folio, odd);
      else if (folio === f[4]) list.del(folio);
    }
    expect(seen).toEqual(f);
    expect(list.toArray()).toEqual([f[0], f[2]]);
    expect(odd.toArray()).toEqual([f[1], f[3], f[5]]);
    // Taking the next entry away under the iterator is caught.
    const iter = odd[Symbol.iterator]();
    expect(iter.next().value).toBe(f[1]);
    odd.del(f[3]!);
    expect(() => iter.next()).toThrow(/taken off the list during the iteration/);
  });

  test('iterating a list allocates one result object for the whole iteration, not one per folio', () => {
    const { mem, f } = setup(3);
    const list = new FolioList(mem);
    for (const folio of f) list.addTail(folio);
    const iter = list[Symbol.iterator]();
    const first = iter.next();
    expect(first).toEqual({ done: false, value: f[0] });
    const second = iter.next();
    expect(second).toBe(first);
    expect(second.value).toBe(f[1]);
    expect(iter.next().value).toBe(f[2]);
    expect(iter.next().done).toBe(true);
    expect([...list]).toEqual(f);
  });

  test('a folio is on at most one list; misuse is refused without a change', () => {
    const { mem, f } = setup(3);
    const a = new FolioList(mem);
    const b = new FolioList(mem);
    a.add(f[0]!);
    expectMisuse(mem, () => a.add(f[0]!), 'CONTRACT_VIOLATION', /already on this list/);
    expectMisuse(mem, () => b.addTail(f[0]!), 'CONTRACT_VIOLATION', /already on another list/);
    expectMisuse(mem, () => b.del(f[0]!), 'CONTRACT_VIOLATION', /on another list/);
    expectMisuse(mem, () => b.del(f[1]!), 'CONTRACT_VIOLATION', /not on any list/);
    expectMisuse(mem, () => b.moveTo(f[0]!, a), 'CONTRACT_VIOLATION');
    expectMisuse(mem, () => a.addBefore(f[1]!, f[2]!), 'CONTRACT_VIOLATION', /not on any list/);
    expectMisuse(mem, () => a.spliceInit(a), 'INVALID_ARGUMENT', /itself/);
    const other = createPhysicalMemory({ nodes: [{ pages: 2048 }] });
    expectMisuse(
      mem,
      () => a.moveTo(f[0]!, new FolioList(other)),
      'INVALID_ARGUMENT',
      /same PhysicalMemory/,
    );
    expectMisuse(mem, () => a.add(f[1]! + 0.5), 'INVALID_ARGUMENT');
    expect(a.toArray()).toEqual([f[0]]);
    expect(b.size).toBe(0);
    // Freeing a listed folio is a bad page; taking it off first makes it fine.
    expectMisuse(mem, () => folioPut(mem, f[0]!), 'CONTRACT_VIOLATION', /list/);
    a.del(f[0]!);
    folioPut(mem, f[0]!);
    expectMisuse(mem, () => a.add(f[0]!), 'USE_AFTER_FREE');
    expectSound(mem);
  });

  test('the buddy free lists and folio lists share links without interfering', () => {
    const { mem, f } = setup(4);
    const list = new FolioList(mem);
    for (const x of f) list.addTail(x);
    // Freeing and reallocating other frames rewrites free-list links only.
    const tmp = Array.from({ length: 50 }, () => folioAlloc(mem, 0, 0));
    for (const x of tmp) folioPut(mem, x);
    expect(list.toArray()).toEqual(f);
    expectSound(mem);
  });
});
