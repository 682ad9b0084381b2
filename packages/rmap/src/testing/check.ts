import {
  assertPhysicalMemory,
  type Folio,
  folioTestFlag,
  nodeFreePages,
  PG_locked,
  type PhysicalMemory,
  pfnFolio,
  pfnValid,
} from '@mmsim/folio';
import type { RunResult } from '@mmsim/runtime';
import type { RmapMachine } from './machine.js';

/** Free pages of every node. */
export function freePages(mem: PhysicalMemory): number[] {
  return Array.from({ length: mem.nrNodes }, (_, nid) => nodeFreePages(mem, nid));
}

/**
 * Runs the machine and checks it: throws a plain Error unless every task completed and
 * the virtual memory (`quiescent`: nothing left in flight) and the memmap are sound.
 */
export function runAndCheck(m: RmapMachine, quiescent = true): RunResult {
  const result = m.rt.run();
  if (result.status !== 'completed') {
    throw new Error(`run ended ${result.status}: ${JSON.stringify(result.deadlock, null, 1)}`);
  }
  const problems = m.vm.check({ quiescent });
  if (problems.length > 0) {
    throw new Error(`the virtual memory is not sound:\n${JSON.stringify(problems, null, 1)}`);
  }
  assertPhysicalMemory(m.mem);
  return result;
}

/** Every folio that is locked now (at rest there should be none). */
export function lockedFolios(m: Pick<RmapMachine, 'mem'>): Folio[] {
  const out: Folio[] = [];
  for (let pfn = 0; pfn < m.mem.maxPfn; pfn++) {
    if (!pfnValid(m.mem, pfn) || pfnFolio(m.mem, pfn) !== pfn) continue;
    if (folioTestFlag(m.mem, pfn, PG_locked)) out.push(pfn);
  }
  return out;
}
