import { BufferRecycler, frameView } from '@mmsim/folio';
import { Kernel, resolveKernelConfig } from '@mmsim/kernel';
import { MmsimError, RandomStrategy } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { builtinScenario, scenarioConfig } from '../src/index.js';
import { instantiateScenarioOn } from '../src/scenario.js';

/**
 * Runs one random schedule of a built-in scenario on a machine built from `recycler`'s
 * buffers (as an exploration target builds its instances) and releases the machine.
 * Returns the run's status, or the code of the error that ended it.
 */
function runOnce(recycler: BufferRecycler, name: string, variant: string, seed: number): string {
  const scenario = builtinScenario(name);
  const config = resolveKernelConfig({
    ...scenarioConfig(scenario, { variant } as Parameters<typeof scenarioConfig>[1]),
    strategy: new RandomStrategy(),
    seed,
    maxSteps: 100_000,
  });
  const kernel = new Kernel(config, recycler);
  instantiateScenarioOn(scenario, kernel, {});
  let status: string;
  try {
    status = kernel.run().status;
  } catch (error) {
    if (!(error instanceof MmsimError) || error.code === 'INVARIANT_VIOLATED') throw error;
    status = error.code;
  }
  kernel.release();
  return status;
}

const SCENARIOS: ReadonlyArray<readonly [string, string]> = [
  ['rfc-lock-order', 'rfc-2022'],
  ['rfc-lock-order', 'v6.3'],
  ['loop-bh-deadlock', 'v6.3-rc1'],
  ['loop-writeback-deadlock', 'v6.3'],
  ['split-lock-deadlock', 'v6.10'],
  ['migrate-under-writes', 'v6.3'],
];

describe("the memory map's frames buffer, given back zeroed where a machine wrote it", () => {
  it.each(SCENARIOS)(
    '%s in %s: every buffer given back as zeroed is zero when the next machine takes it',
    (name, variant) => {
      // checkZeroed: a take of a buffer given back as zeroed throws INVARIANT_VIOLATED when a
      // byte is not 0, as it would if the release zeroed too little (a node's frames of one
      // of the per-frame arrays) or a run wrote a frame of a hole.
      const recycler = new BufferRecycler({ checkZeroed: true });
      const statuses = new Set<string>();
      for (let seed = 1; seed <= (name === 'migrate-under-writes' ? 3 : 12); seed++) {
        statuses.add(runOnce(recycler, name, variant, seed));
      }
      expect(statuses.size).toBeGreaterThan(0);
    },
  );

  it('a frame of a hole written by a run is caught when the buffer is taken again', () => {
    const recycler = new BufferRecycler({ checkZeroed: true });
    const config = resolveKernelConfig({ nodes: [{ pages: 64 }, { pages: 64 }] });
    const used = new Kernel(config, recycler);
    // Node 1 starts at pfn 1024: pfns 64 to 1023 are a hole, which nothing may write.
    expect(used.mem.maxPfn).toBe(1088);
    frameView(used.mem).flags[500] = 1;
    used.release();
    expect(() => new Kernel(config, recycler)).toThrow(
      /given back as its memory map.s constructor leaves it has byte/,
    );
  });

  it('a machine built from a released one equals a fresh machine, holes included', () => {
    const recycler = new BufferRecycler();
    const config = resolveKernelConfig({ nodes: [{ pages: 64 }, { pages: 64 }] });
    for (let seed = 1; seed <= 3; seed++) runOnce(recycler, 'rfc-lock-order', 'rfc-2022', seed);
    const reused = frameView(new Kernel(config, recycler).mem);
    const fresh = frameView(new Kernel(config).mem);
    for (const key of [
      'state',
      'flags',
      'refcount',
      'mapcount',
      'headOf',
      'next',
      'nid',
    ] as const) {
      expect(Array.from(reused[key]), key).toEqual(Array.from(fresh[key]));
    }
  });
});
