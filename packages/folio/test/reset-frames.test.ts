import { expect, test } from 'vitest';
import { createPhysicalMemory, folioAlloc, folioPut, PG_anon_exclusive } from '../src/index.js';
import {
  FRAME_BUDDY,
  FRAME_FREE,
  getPriv,
  memmapOf,
  setMappingObj,
  setPriv,
} from '../src/memmap.js';

/*
 * Freeing a folio clears every per-frame field of every frame, tails included: a large folio
 * is cleared with typed-array fills (resetFrames), a small one frame by frame. Both sizes,
 * with a page->mapping and a page->private on frames whose ids must be given back.
 */
test.each([2, 5])('freeing an order-%i folio clears every frame', (order) => {
  const mem = createPhysicalMemory({ nodes: [{ pages: 1024 }] });
  const m = memmapOf(mem);
  const folio = folioAlloc(mem, order, 0) as number;
  const nr = 1 << order;
  const owner = { name: 'mapping' };
  for (let p = folio + 1; p < folio + nr; p++) {
    m.flags[p] = 1 << PG_anon_exclusive;
    m.mapcount[p] = 3;
    m.index[p] = p;
    m.mappingKind[p] = 2;
    setMappingObj(m, p, owner);
    setPriv(m, p, { page: p });
  }
  expect(m.mappingIds.has(owner)).toBe(true);
  folioPut(mem, folio);
  for (let p = folio; p < folio + nr; p++) {
    expect(m.state[p] === FRAME_FREE || m.state[p] === FRAME_BUDDY, `state of ${p}`).toBe(true);
    expect(
      [m.flags[p], m.mapcount[p], m.index[p], m.mappingKind[p], m.mappingId[p], m.headOf[p]],
      `frame ${p}`,
    ).toEqual([0, 0, 0, 0, 0, -1]);
    expect(getPriv(m, p)).toBe(null);
  }
  expect(m.refcount[folio]).toBe(0);
  expect(m.privCount).toBe(0);
  expect(m.mappingIds.has(owner)).toBe(false);
});
