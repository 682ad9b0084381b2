import { folioRefAdd, MIGRATE_CMA, setPageblockMigratetype } from '@mmsim/folio';
import { VARIANTS } from '@mmsim/migrate';
import { GUP_PIN_COUNTING_BIAS } from '@mmsim/rmap';
import { describe, expect, it } from 'vitest';
import {
  builtinScenario,
  exploreScenario,
  instantiateScenario,
  LONGTERM_PIN_PINNABLE,
  LONGTERM_PIN_REFUSED,
  runScenario,
} from '../src/index.js';

describe('longterm-pin', () => {
  it('runs clean in v6.3: the pin moved the buffer out of ZONE_MOVABLE and compaction refuses it', () => {
    const run = runScenario(builtinScenario('longterm-pin'), {
      variant: 'v6.3',
      invariantStride: 1,
    });
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
    const f = run.figures;
    expect(f.pin_attempts).toBe(2);
    expect(f.pin_migrated).toBe(8);
    expect(f.compaction_refused_pinned).toBeGreaterThanOrEqual(8);
    // the first pass's 8 pins were dropped before the migration; the second pass's stand
    expect(f.nr_foll_pin_acquired).toBe(16);
    expect(f.nr_foll_pin_released).toBe(8);
  });

  it('its invariants hold on the clean end state and fire on a pinned page left in CMA', () => {
    const inst = instantiateScenario(builtinScenario('longterm-pin'), { variant: 'v6.3' });
    const result = inst.kernel.run();
    const check = (name: string) =>
      inst.invariants.find((i) => i.name === name)!.check('end', result);
    expect(check(LONGTERM_PIN_PINNABLE)).toBeNull();
    expect(check(LONGTERM_PIN_REFUSED)).toBeNull();
    const mm = inst.kernel.vm.processes.find((p) => p.name === 'app')!;
    const [pfn] = [...mm.pins.keys()];
    setPageblockMigratetype(inst.kernel.mem, pfn!, MIGRATE_CMA);
    expect(check(LONGTERM_PIN_PINNABLE)).toMatch(/is in a CMA pageblock/);
  });

  it('ends under PCT in v6.2 and v6.3: no step limit (the compaction waits for the pin, the pin lets isolators run)', {
    timeout: 180_000,
  }, () => {
    for (const variant of ['v6.2', 'v6.3'] as const) {
      const r = exploreScenario(builtinScenario('longterm-pin'), {
        variant,
        strategy: 'pct',
        schedules: 6,
        shrink: false,
      });
      expect(r.message).toMatch(/no finding/);
    }
  });

  it('has a recorded history, clean in every variant, so mmsim check runs it', () => {
    const history = builtinScenario('longterm-pin').history;
    expect(history).toBeDefined();
    expect(history!.deadlocksIn).toEqual([]);
    expect(history!.fixedIn).toEqual(Object.keys(VARIANTS));
  });

  it('explored (random schedules, every invariant after every step): no finding', {
    timeout: 180_000,
  }, () => {
    const r = exploreScenario(builtinScenario('longterm-pin', { accesses: 16 }), {
      variant: 'v6.3',
      schedules: 8,
      invariantStride: 1,
      shrink: false,
    });
    expect(r.message).toMatch(/no finding/);
  });

  describe('a pin whose migration fails (mm/gup.c 6.3: migrate_longterm_unpinnable_pages returns -ENOMEM)', () => {
    const faults = { 'migrate.alloc_migration_target': { probability: 1 } };

    it('v6.3: no target folio can be allocated: pin_user_pages fails with ENOMEM, nothing stays pinned, the invariants accept it', () => {
      const run = runScenario(builtinScenario('longterm-pin'), { variant: 'v6.3', faults });
      expect(run.error).toBeNull();
      expect(run.violations).toEqual([]);
      expect(run.figures.pin_migrated).toBe(0);
    });

    it('v6.3: after such a failure a page left pinned is still caught', () => {
      const inst = instantiateScenario(builtinScenario('longterm-pin'), {
        variant: 'v6.3',
        faults,
      });
      const result = inst.kernel.run();
      const check = () =>
        inst.invariants.find((i) => i.name === LONGTERM_PIN_PINNABLE)!.check('end', result);
      expect(check()).toBeNull();
      const mm = inst.kernel.vm.processes.find((p) => p.name === 'app')!;
      const pfn = inst.kernel.vm.followPage(mm, mm.vmas[0]!.start);
      folioRefAdd(inst.kernel.mem, pfn, GUP_PIN_COUNTING_BIAS); // a pin the failure forgot
      expect(check()).toMatch(/returned -ENOMEM but page 0 .* is still pinned/);
    });
  });
});
