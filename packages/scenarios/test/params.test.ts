import { MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  BUILTIN_PARAM_SCHEMAS,
  builtinScenario,
  instantiateScenario,
  SCENARIO_NAMES,
} from '../src/index.js';

/** The error `builtinScenario(name, params)` throws (it must throw). */
function errorOf(name: string, params: unknown): MmsimError {
  try {
    builtinScenario(name, params as Record<string, unknown>);
  } catch (error) {
    expect(error).toBeInstanceOf(MmsimError);
    return error as MmsimError;
  }
  throw new Error(`${name} accepted ${JSON.stringify(params)}`);
}

describe('built-in scenario parameters are checked by their schemas', () => {
  it('every built-in scenario has a schema, and accepts no parameters', () => {
    expect(Object.keys(BUILTIN_PARAM_SCHEMAS).sort()).toEqual([...SCENARIO_NAMES].sort());
    for (const name of SCENARIO_NAMES) expect(builtinScenario(name, {}).name).toBe(name);
  });

  it.each([
    [
      'loop-bh-deadlock',
      { pages: 1_000_000_000 },
      /^params\.pages must be an integer in \[1, 256\]/,
    ],
    ['loop-bh-deadlock', { pages: 'lots' }, /^params\.pages must be an integer in \[1, 256\]/],
    ['rfc-lock-order', { migrations: 0 }, /^params\.migrations must be an integer in \[1, 10000\]/],
    ['split-lock-deadlock', { order: 9 }, /^params\.order must be an integer in \[1, 8\]/],
    ['pmbench-migrate', { mode: 'FAST' }, /^params\.mode must be a migrate mode/],
    [
      'pmbench-migrate',
      { durationNs: 10 },
      /^params\.durationNs must be an integer in \[1000, 1000000000\]/,
    ],
    [
      'loop-writeback-deadlock',
      { bogus: 1 },
      /^params\.bogus is not a parameter of loop-writeback-deadlock; known: pages, compactions, writes, writebacks$/,
    ],
  ])('%s %j is refused', (name, params, message) => {
    const error = errorOf(name, params);
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toMatch(message);
  });

  it('the largest values of a range are accepted, and a mode may be named', () => {
    expect(builtinScenario('loop-bh-deadlock', { pages: 256 }).name).toBe('loop-bh-deadlock');
    expect(builtinScenario('split-lock-deadlock', { order: 8 }).name).toBe('split-lock-deadlock');
    expect(builtinScenario('pmbench-migrate', { mode: 'MIGRATE_ASYNC', threads: 63 }).name).toBe(
      'pmbench-migrate',
    );
    expect(builtinScenario('pmbench-migrate', { durationNs: 1_000_000_000 }).name).toBe(
      'pmbench-migrate',
    );
  });
});

describe('a migrator target that is not a node of the machine', () => {
  it('is refused when the scenario is built (INVALID_CONFIG), not a crash during the run', () => {
    const scenario = builtinScenario('pmbench-migrate');
    const oneNode = { ...scenario.config, nodes: [{ pages: 4096, cpus: 6 }] };
    expect(() => instantiateScenario(scenario, oneNode)).toThrow(
      /actor migratepages targets node 1, but the machine has nodes 0\.\.0/,
    );
    expect(instantiateScenario(scenario).kernel.nrNodes).toBe(2);
  });
});
