import { folioRefAdd, MIGRATE_ISOLATE, pfnFolio, setPageblockMigratetype } from '@mmsim/folio';
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

  it('longterm-pin: the killed driver gets -EINTR from pin_user_pages (__get_user_pages), the invariants accept it', () => {
    const run = runScenario(builtinScenario('longterm-pin'), { variant: 'v6.3', faults });
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
    expect(run.figures.nr_foll_pin_acquired).toBe(0);
    expect(run.figures.pin_attempts).toBe(1);
  });

  it('longterm-pin: after the -EINTR a page of the buffer left pinned is still caught', () => {
    const inst = instantiateScenario(builtinScenario('longterm-pin'), {
      variant: 'v6.3',
      faults,
    });
    const k = inst.kernel;
    const result = k.run();
    const check = () =>
      inst.invariants.find((i) => i.name === 'longterm-pin-pinnable')!.check('end', result);
    expect(check()).toBeNull();
    // The references of a FOLL_PIN (GUP_PIN_COUNTING_BIAS on an order-0 folio) the failed
    // pin_user_pages should not have left, on the buffer's first page.
    const mm = k.vm.loadedMm(1)!; // the buffer's process: the one its writer last ran in
    const pfn = k.vm.followPage(mm, mm.vmas[0]!.start);
    folioRefAdd(k.mem, pfnFolio(k.mem, pfn), 1024);
    expect(check()).toMatch(
      /pin_user_pages returned -EINTR but page 0 \(pfn \d+\) is still pinned/,
    );
  });
});
