import { scheduleSeed } from '@mmsim/explore';
import { type RunSetup, runSchedule } from '@mmsim/explore/internal';
import { Kernel } from '@mmsim/kernel';
import { RandomStrategy } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { builtinScenario, type ScenarioTargetOptions, scenarioTarget } from '../src/index.js';

/**
 * Verdict kind and replay token of each of `n` random schedules, and the kernels built;
 * `release` hands each instance back after its run, as `explore` does.
 */
function schedules(
  name: string,
  options: ScenarioTargetOptions,
  n: number,
  release: boolean,
  first = 0,
  message = false,
): { runs: string[]; kernels: Kernel[] } {
  const base = scenarioTarget(builtinScenario(name), options);
  const kernels: Kernel[] = [];
  const setup: RunSetup = {
    target: {
      name: base.name,
      identity: base.identity,
      instantiate(o) {
        const instance = base.instantiate(o);
        kernels.push(instance.kernel);
        return instance;
      },
    },
    checks: {},
    faults: {},
    maxSteps: 100_000,
    releaseInstances: release,
  };
  const runs: string[] = [];
  for (let i = first; i < first + n; i++) {
    const outcome = runSchedule(
      setup,
      { kind: 'strategy', strategy: new RandomStrategy() },
      scheduleSeed(1, i),
      false,
    );
    runs.push(
      `${outcome.verdict?.kind ?? 'none'} ${outcome.token}${message ? ` ${outcome.verdict?.message ?? ''}` : ''}`,
    );
  }
  return { runs, kernels };
}

/** The buffer behind the memory map's per-frame arrays of a kernel. */
function memmapBuffer(kernel: Kernel): ArrayBufferLike {
  return (kernel.mem as unknown as { index: Float64Array }).index.buffer;
}

const HISTORIC: ReadonlyArray<readonly [string, string, string]> = [
  ['rfc-lock-order', 'rfc-2022', 'v6.3-rc1'],
  ['loop-bh-deadlock', 'v6.3-rc1', 'v6.3'],
  ['loop-writeback-deadlock', 'v6.3-rc1', 'v6.3'],
  ['split-lock-deadlock', 'v6.10', 'v6.11'],
];
const SEEDS = 24;

describe('machines an exploration releases after each schedule', () => {
  it.each(
    HISTORIC.flatMap(([name, buggy, fixed]) => [
      [name, buggy],
      [name, fixed],
    ]),
  )('%s in %s: the same schedules, findings and tokens as fresh instances', (name, variant) => {
    const fresh = schedules(
      name,
      { variant, freshInstances: true } as ScenarioTargetOptions,
      SEEDS,
      false,
    );
    const recycled = schedules(name, { variant } as ScenarioTargetOptions, SEEDS, true);
    expect(recycled.runs).toEqual(fresh.runs);
    // The comparison means something: the buggy variants find something in these seeds.
    if (variant === HISTORIC.find(([n]) => n === name)?.[1]) {
      expect(fresh.runs.some((s) => !s.startsWith('none'))).toBe(true);
    }
  });

  it('reuse the per-frame buffers of the previous schedule', () => {
    const { kernels } = schedules('rfc-lock-order', { variant: 'v6.3' }, 3, true);
    expect(kernels).toHaveLength(3);
    expect(memmapBuffer(kernels[1] as Kernel)).toBe(memmapBuffer(kernels[0] as Kernel));
    expect(memmapBuffer(kernels[2] as Kernel)).toBe(memmapBuffer(kernels[0] as Kernel));
  });

  it('are not recycled when not released, nor when built fresh', () => {
    const kept = schedules('rfc-lock-order', { variant: 'v6.3' }, 2, false).kernels;
    expect(memmapBuffer(kept[1] as Kernel)).not.toBe(memmapBuffer(kept[0] as Kernel));
    const fresh = schedules('rfc-lock-order', { variant: 'v6.3', freshInstances: true }, 2, true);
    expect(memmapBuffer(fresh.kernels[1] as Kernel)).not.toBe(
      memmapBuffer(fresh.kernels[0] as Kernel),
    );
    expect(fresh.kernels[0]).toBeInstanceOf(Kernel);
  });

  it('recycle the chunk of page->private slots a schedule took, for the next schedules', () => {
    // loop-bh-deadlock attaches buffer heads in its set-up: its machine sets page->private.
    const { kernels } = schedules('loop-bh-deadlock', { variant: 'v6.3' }, 8, true);
    const chunks = kernels.map(
      (k) => (k.mem as unknown as { privChunks: Int32Array[] | null }).privChunks?.[0]?.buffer,
    );
    expect(chunks.every((b) => b instanceof ArrayBuffer && b.byteLength === 4 * 1088)).toBe(true);
    // A machine of 1,088 frames holds three buffers of that length (the chunk and the page
    // locks' two owner arrays), which the recycler hands out in turn: fresh chunks would be
    // eight buffers.
    expect(new Set(chunks).size).toBeLessThanOrEqual(3);
  });

  it('two scenarios explored in turn in one process: the verdicts of each alone, fresh', () => {
    // The lock class names are kept per process, across machines and scenarios; the
    // findings' messages name them.
    const pairs = [
      ['rfc-lock-order', 'rfc-2022'],
      ['loop-bh-deadlock', 'v6.3-rc1'],
    ] as const;
    const alone = pairs.map(
      ([name, variant]) =>
        schedules(
          name,
          { variant, freshInstances: true } as ScenarioTargetOptions,
          12,
          false,
          0,
          true,
        ).runs,
    );
    const inTurn: string[][] = [[], []];
    for (let i = 0; i < 12; i += 3) {
      pairs.forEach(([name, variant], j) => {
        inTurn[j]!.push(
          ...schedules(name, { variant } as ScenarioTargetOptions, 3, true, i, true).runs,
        );
      });
    }
    expect(inTurn).toEqual(alone);
    expect(alone.every((runs) => runs.some((r) => !r.startsWith('none')))).toBe(true);
  });
});
