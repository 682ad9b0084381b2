import { setFlagsFromString } from 'node:v8';
import { expect, test } from 'vitest';
import { mutableMm } from '../src/internal.js';
import { createRmapMachine } from '../src/testing/index.js';

// A V8 native, for this file only: whether an array holds its elements as tagged objects
// (the kind a CpuTlb store leaves it in), not as small integers.
setFlagsFromString('--allow-natives-syntax');
const hasObjectElements = new Function('a', 'return %HasObjectElements(a);') as (
  a: unknown[],
) => boolean;
setFlagsFromString('--no-allow-natives-syntax');

test('a new mm has its per-CPU TLB array in the object elements kind before any CPU uses it', () => {
  const m = createRmapMachine();
  const mm = mutableMm(m.vm.createProcess('p'));
  expect(mm.tlb.length).toBe(m.rt.cpus.length);
  expect(mm.tlb.every((tlb) => tlb === undefined)).toBe(true);
  expect(hasObjectElements(mm.tlb)).toBe(true);
});
