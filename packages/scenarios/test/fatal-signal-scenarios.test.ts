import { MIGRATE_ISOLATE, setPageblockMigratetype } from '@mmsim/folio';
import { EINTR, FATAL_SIGNAL_SITE } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { builtinScenario, instantiateScenario, runScenario } from '../src/index.js';

/**
 * A SIGKILL at a `fatal_signal_pending(current)` check (the fault site
 * `signal.fatal_signal_pending`) is a legal kernel state: the scenarios' invariants must
 * accept the kernel's outcome, and still catch what that outcome must not leave behind.
 */
const faults = { [FATAL_SIGNAL_SITE]: { probability: 1 } };

describe('scenario invariants under a fatal signal', () => {
  it('hotplug-offline: offline_pages backs off with -EINTR (signal backoff), the invariants accept it', () => {
    const run = runScenario(builtinScenario('hotplug-offline'), { variant: 'v6.3', faults });
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
    expect(run.figures.offline_ret).toBe(-EINTR);
    expect(run.figures.pages_offlined).toBe(0);
  });

  it('hotplug-offline: after the -EINTR a pageblock left isolated is still caught', () => {
    const inst = instantiateScenario(builtinScenario('hotplug-offline'), {
      variant: 'v6.3',
      faults,
    });
    const result = inst.kernel.run();
    const check = () =>
      inst.invariants.find((i) => i.name === 'offline-result')!.check('end', result);
    expect(check()).toBeNull();
    setPageblockMigratetype(inst.kernel.mem, 1024, MIGRATE_ISOLATE);
    expect(check()).toMatch(/pageblock at pfn 1024 was not given back/);
  });

  it('longterm-pin: compact_memory killed stops early, the refusal check covers what it scanned', () => {
    const run = runScenario(builtinScenario('longterm-pin'), { variant: 'v6.3', faults });
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
  });
});
