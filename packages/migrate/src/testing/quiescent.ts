import { checkPhysicalMemory } from '@mmsim/folio';
import { nrIsolated } from '@mmsim/lru/test';
import { lockedFolios } from '@mmsim/rmap/test';
import type { MigrateMachine } from './machine.js';

/**
 * Throws a plain Error, listing what is wrong, unless the machine at rest is sound: rmap
 * (mappings, refcounts against mappings and cache, no migration entry to an unlocked
 * folio, TLBs agree, no flush pending), the LRU lists, the memmap, no folio locked (so no
 * migration entry at all), NR_ISOLATED back to 0.
 */
export function assertQuiescent(m: MigrateMachine): void {
  const problems: Record<string, unknown> = {};
  const vm = m.vm.check({ quiescent: true });
  if (vm.length > 0) problems.rmap = vm;
  const lru = m.lru.view.check();
  if (lru.length > 0) problems.lru = lru;
  const memmap = checkPhysicalMemory(m.mem);
  if (memmap.length > 0) problems.memmap = memmap;
  const locked = lockedFolios(m);
  if (locked.length > 0) problems.lockedFolios = locked;
  const isolated = nrIsolated(m);
  if (isolated !== 0) problems.nrIsolated = isolated;
  if (Object.keys(problems).length > 0) {
    throw new Error(`the machine is not quiescent: ${JSON.stringify(problems, null, 1)}`);
  }
}
