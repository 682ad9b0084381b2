import { createPhysicalMemory, nodeStats } from '@mmsim/folio';
import { expect, test } from 'vitest';
import { exploreLockOrder } from '../src/lock-order.js';
import { moveFoliosBetweenNodes } from '../src/move-folios.js';

test('moving folios keeps every content word and gives the memory back', () => {
  const mem = createPhysicalMemory({ nodes: [{ pages: 4096 }, { pages: 4096 }] });
  const free = [0, 1].map((nid) => nodeStats(mem, nid).freePages);
  const report = moveFoliosBetweenNodes(mem, 32);
  expect(report).toMatchObject({ moved: 32, failed: 0, contentsIntact: true });
  // Sources left node 0 and targets took the same number of pages on node 1.
  expect(report.freeAfter[0]! - report.freeBefore[0]!).toBe(report.basePages);
  expect(report.freeBefore[1]! - report.freeAfter[1]!).toBe(report.basePages);
  expect([0, 1].map((nid) => nodeStats(mem, nid).freePages)).toEqual(free);
});

test('the RFC batch deadlocks under some schedule and the 6.3 rule under none', () => {
  const rfc = exploreLockOrder('rfc-2022');
  const fixed = exploreLockOrder('v6.3');
  expect(rfc.deadlocks).toBeGreaterThan(0);
  expect(rfc.deadlocks).toBeLessThan(rfc.schedules);
  expect(rfc.firstCycle.map((e) => e.task.name)).toEqual(['migrate-ab', 'migrate-ba']);
  expect(rfc.replayReproduces).toBe(true);
  expect(rfc.inversionsWithoutDeadlock).toBeGreaterThan(0);
  expect(rfc.firstInversion).toContain('migrate_folio_unmap');
  expect(fixed.deadlocks).toBe(0);
  expect(fixed.firstInversion).toBe('');
  expect(fixed.schedules).toBeGreaterThan(rfc.schedules);
});
