import { FootprintLog, RandomStrategy } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { builtinScenario, scenarioTarget } from '../src/index.js';

describe('a scenario target and the footprint log of each search', () => {
  it('an instance records into the log it was given, not the log of the first instance', () => {
    const target = scenarioTarget(builtinScenario('rfc-lock-order'), { variant: 'v6.3' });
    const runtime = (footprints: FootprintLog | undefined) => ({
      strategy: new RandomStrategy(),
      seed: 1,
      onStep: () => {},
      maxSteps: 10_000,
      meta: 'test',
      ...(footprints === undefined ? {} : { footprints }),
    });
    const first = new FootprintLog();
    const second = new FootprintLog();
    const a = target.instantiate({ runtime: runtime(first) });
    expect(a.rt.footprints).toBe(first);
    a.release?.();
    // A second search of the same target (another DPOR shard, say) brings its own log.
    const b = target.instantiate({ runtime: runtime(second) });
    expect(b.rt.footprints).toBe(second);
    b.release?.();
    // And a random search after it records none.
    const c = target.instantiate({ runtime: runtime(undefined) });
    expect(c.rt.footprints).toBeNull();
    c.release?.();
  });
});
