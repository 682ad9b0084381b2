import { replay } from '@mmsim/explore';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '@mmsim/rmap';
import { program } from '@mmsim/syscalls';
import { describe, expect, it } from 'vitest';
import { exploreScenario, runScenario, type Scenario, scenarioTarget } from '../src/index.js';

const RW = PROT_READ | PROT_WRITE;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

/**
 * Two threads of one process: one stores 1 then 2 to a word, the other loads it once and
 * asserts (vitest's expect) that it sees 0 or 1. Only some interleavings break it.
 */
function racyProgram(): Scenario {
  return {
    name: 'racy-program',
    title: 'two threads of a program race on a word',
    description: '',
    sources: [],
    config: { nodes: [{ pages: 256, cpus: 2 }] },
    build(k) {
      let buf = 0;
      const p = program(k, {
        processes: [
          {
            name: 'racy',
            threads: [
              function* (sys) {
                buf = yield* sys.mmap(0, 4096, RW, ANON);
                yield* sys.write(buf, 0);
                const t = sys.spawnThread(function* (reader) {
                  for (let i = 0; i < 3; i++) yield;
                  expect(yield* reader.read(buf)).toBeLessThan(2);
                }, 1);
                expect(t).toBeGreaterThan(0);
                yield* sys.write(buf, 1);
                for (let i = 0; i < 3; i++) yield;
                yield* sys.write(buf, 2);
              },
            ],
          },
        ],
      });
      return { actors: [p.actor] };
    },
  };
}

describe('programs as scenario actors', () => {
  it('the explorer interleaves program threads and reports a failed assertion as an expectation finding that replays', () => {
    const r = exploreScenario(racyProgram(), { strategy: 'random', schedules: 200, seed: 1 });
    expect(r.found).toBe(true);
    expect(r.kind).toBe('expectation');
    const f = r.finding;
    if (f === null || f.kind !== 'expectation') throw new Error('no expectation finding');
    expect(f.data.failure.field).toBe('assertion');
    expect(f.data.failure.message).toMatch(/expected 2 to be less than 2/);
    expect(f.data.failure.process).toBe('racy');
    const again = replay(scenarioTarget(racyProgram()), f.replay);
    expect(again.finding?.kind).toBe('expectation');
    expect(again.finding?.message).toBe(f.message);
  });

  it('runScenario throws the assertion itself, so a test fails with its message', () => {
    let seen: unknown = null;
    for (let seed = 1; seed <= 50 && seen === null; seed++) {
      try {
        runScenario(racyProgram(), { seed, strategy: 'random' });
      } catch (error) {
        seen = error;
      }
    }
    expect((seen as Error).message).toMatch(/expected 2 to be less than 2/);
    expect((seen as Error).name).toBe('AssertionError');
  });
});
