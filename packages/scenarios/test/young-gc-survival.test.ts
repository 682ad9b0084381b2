import { replay } from '@mmsim/explore';
import { type RunSetup, runSchedule } from '@mmsim/explore/internal';
import type { Actor } from '@mmsim/kernel';
import { RandomStrategy } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  instantiateScenario,
  loopBhDeadlock,
  loopWritebackDeadlock,
  rfcLockOrder,
  type Scenario,
  scenarioTarget,
  splitLockDeadlock,
  staleDstMapping,
} from '../src/index.js';

// On Node 20 the first call of a generator closure gives it an initial map, and an object
// literal's getter goes into a map: maps live in the old generation, so the closure and its
// context (the kernel: the whole machine) stay reachable for every young-generation
// collection until a full one. Each schedule's machine was promoted and the old generation
// grew by about 50 KB a schedule (docs/exploration.md, speed). The machine's task bodies
// and set-up are therefore plain functions that call module-level generators (or class
// methods), made once per module or class, not once per machine.

const GeneratorFunction = Object.getPrototypeOf(function* () {}).constructor;

/** Whether `f` is a generator function: a generator closure when it was made per machine. */
function isGeneratorFunction(f: unknown): boolean {
  return f instanceof GeneratorFunction;
}

const HISTORIC: readonly Scenario[] = [
  rfcLockOrder(),
  loopBhDeadlock(),
  loopWritebackDeadlock(),
  splitLockDeadlock(),
];

describe('no generator closure per machine in the historic scenarios', () => {
  for (const scenario of HISTORIC) {
    it(`${scenario.name}: set-up and task bodies are not generator closures`, () => {
      const a = instantiateScenario(scenario, { variant: 'v6.3', seed: 1 });
      const b = instantiateScenario(scenario, { variant: 'v6.3', seed: 1 });
      const bodies = (actors: readonly Actor[]) => actors.map((actor) => actor.body);
      expect(a.world.setup).toBeDefined();
      expect(isGeneratorFunction(a.world.setup)).toBe(false);
      for (const body of bodies(a.world.actors)) expect(isGeneratorFunction(body)).toBe(false);
      // Each machine has its own closures (so the test looks at what is made per machine).
      expect(a.world.setup).not.toBe(b.world.setup);
    });

    it(`${scenario.name}: what the set-up and bodies return are generators`, () => {
      const { world, kernel } = instantiateScenario(scenario, { variant: 'v6.3', seed: 1 });
      const task = kernel.rt.spawn('probe', 0, function* () {});
      const setup = world.setup?.(task);
      expect(typeof setup?.next).toBe('function');
      for (const actor of world.actors) expect(typeof actor.body(task).next).toBe('function');
    });
  }

  it('the pfn walker (stale-dst-mapping) has no generator closure as its body either', () => {
    const a = instantiateScenario(staleDstMapping(), { variant: 'v6.3', seed: 1 });
    const walker = a.world.actors.find((actor) => actor.name === 'offline_pages');
    expect(walker).toBeDefined();
    expect(isGeneratorFunction(walker?.body)).toBe(false);
    const task = a.kernel.rt.spawn('probe', 0, function* () {});
    expect(typeof walker?.body(task).next).toBe('function');
  });

  it('the check tells a generator closure from a function returning a generator', () => {
    const made = (n: number) => ({
      closure: function* () {
        yield n;
      },
      arrow: () => [n][Symbol.iterator](),
    });
    expect(isGeneratorFunction(made(1).closure)).toBe(true);
    expect(isGeneratorFunction(made(1).arrow)).toBe(false);
  });
});

describe('a schedule outcome has no getter of its own', () => {
  it('the replay token is read through the prototype and replays the run', () => {
    const target = scenarioTarget(rfcLockOrder(), { variant: 'v6.3' });
    const setup: RunSetup = { target, checks: {}, faults: {}, maxSteps: 100_000 };
    const outcome = runSchedule(
      setup,
      { kind: 'strategy', strategy: new RandomStrategy() },
      5,
      false,
    );
    expect(Object.getOwnPropertyDescriptor(outcome, 'token')).toBeUndefined();
    expect(outcome.token).toBe(outcome.token);
    const again = replay(target, outcome.token);
    expect(again.finding).toBeNull();
    expect(again.result?.steps).toBe(outcome.result?.steps);
  });
});
