import type { KernelGen } from '@mmsim/runtime';
import { type MmapOptions, type MmView, PAGE_SIZE } from '../src/index.js';
import {
  createRmapMachine,
  type RmapMachine,
  type RmapMachineOptions,
  runAndCheck,
} from '../src/testing/index.js';

/*
 * The set-up the tests of the system calls that change VMAs (madvise, mprotect, mremap,
 * mbind) share: a machine, a process with one mapping, one task calling into it.
 */

export const PAGE = PAGE_SIZE;

/** A fresh machine and a process `p` with one mapping at `a`. */
export interface MappedProcess extends RmapMachine {
  readonly m: RmapMachine;
  readonly p: MmView;
  readonly a: number;
}

/**
 * A machine (`options`, default `createRmapMachine`'s) with a process `p` that has mapped
 * `map` at `a`: a number is that many anonymous private pages.
 */
export function mappedProcess(
  map: MmapOptions | number = 4,
  options: RmapMachineOptions = {},
): MappedProcess {
  const m = createRmapMachine(options);
  const p = m.vm.createProcess();
  const a = m.vm.mmap(p, typeof map === 'number' ? { length: map * PAGE } : map);
  return { ...m, m, p, a };
}

/** Runs `body` as task `t` on CPU 0 to the end, then the machine's checks (`runAndCheck`). */
export function runInTask(m: RmapMachine, body: () => KernelGen): void {
  m.rt.spawn('t', 0, body);
  runAndCheck(m);
}

/** The VMAs as `[first, end)` page numbers from `base`. */
export function spans(vmas: readonly { start: number; end: number }[], base: number): number[][] {
  return vmas.map((v) => [(v.start - base) / PAGE, (v.end - base) / PAGE]);
}
