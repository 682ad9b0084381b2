import { describe, expect, test } from 'vitest';
import {
  COST_PROFILE_NAMES,
  costProfile,
  DEFAULT_COSTS,
  isCostProfileName,
  MmsimError,
  resolveCosts,
} from '../src/index.js';

describe('cost profiles', () => {
  test('every named profile is found by its name and is a valid, complete cost model', () => {
    for (const name of COST_PROFILE_NAMES) {
      const profile = costProfile(name);
      expect(profile.name).toBe(name);
      expect(Object.keys(profile.costs).sort()).toEqual(Object.keys(DEFAULT_COSTS).sort());
      expect(resolveCosts(profile.costs)).toEqual(profile.costs);
    }
  });

  test('every cost a profile changes from the defaults says where its value comes from', () => {
    for (const name of COST_PROFILE_NAMES) {
      const profile = costProfile(name);
      const changed = (Object.keys(DEFAULT_COSTS) as (keyof typeof DEFAULT_COSTS)[]).filter(
        (key) => profile.costs[key] !== DEFAULT_COSTS[key],
      );
      expect(changed.length).toBeGreaterThan(0);
      for (const key of changed) expect(profile.sources[key], `${name}.${key}`).toBeTruthy();
    }
  });

  test('an unknown profile name is an INVALID_ARGUMENT error that lists the known names', () => {
    expect(isCostProfileName('x86-4s')).toBe(false);
    let error: unknown;
    try {
      costProfile('x86-4s');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(MmsimError);
    expect((error as MmsimError).code).toBe('INVALID_ARGUMENT');
    expect((error as MmsimError).message).toMatch(/x86-4s.*x86-2s, arm64-128/);
  });

  test('x86 shootdowns grow per target CPU, arm64 broadcast TLBI rounds do not', () => {
    const x86 = costProfile('x86-2s');
    const arm = costProfile('arm64-128');
    expect(x86.machine.remoteFlush).toBe('ipi');
    expect(x86.costs.tlbShootdownPerCpu).toBeGreaterThan(0);
    expect(arm.machine.remoteFlush).toBe('broadcast-tlbi');
    expect(arm.costs.tlbShootdownPerCpu).toBe(0);
  });
});
