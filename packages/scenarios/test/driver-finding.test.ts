import { defineDriver } from '@mmsim/driver';
import { replay } from '@mmsim/explore';
import { folioNid } from '@mmsim/folio';
import { MIGRATE_ASYNC, MIGRATEPAGE_SUCCESS, MR_COMPACTION } from '@mmsim/migrate';
import { describe, expect, it } from 'vitest';
import {
  exploreScenario,
  givenFolios,
  migrator,
  runScenario,
  type Scenario,
  scenarioTarget,
} from '../src/index.js';

/** A driver whose migrate_page throws on its `failOn`-th call (and works otherwise). */
function flaky(failOn: number, stopOnDriverError = false) {
  const driver = defineDriver({
    name: 'flaky',
    setup: () => ({ calls: 0 }),
    isolatePage: () => true,
    migratePage(s, dst, src, _mode, host) {
      s.calls++;
      if (s.calls === failOn) throw new Error('flaky lost its page list');
      host.movePage(dst, src);
      return MIGRATEPAGE_SUCCESS;
    },
    putbackPage() {},
    populate(_s, host, nid, count) {
      for (let i = 0; i < count; i++) host.allocPage(nid, 500 + i);
    },
  });
  const scenario: Scenario = {
    name: 'flaky-driver',
    title: 'a driver whose migrate_page throws once',
    description: 'Two compactors move the pages of a driver that throws on one migrate_page.',
    sources: [],
    config: { nodes: [{ pages: 256 }, { pages: 256 }], cpusPerNode: 2 },
    build(k) {
      const d = driver.attach(k, { stopOnDriverError });
      d.populate(0, 6);
      const pages = givenFolios(() => d.host.pages);
      return {
        actors: [
          migrator(k, {
            name: 'compact-a',
            cpu: 0,
            mode: MIGRATE_ASYNC,
            reason: MR_COMPACTION,
            rounds: 2,
            select: pages,
          }),
          migrator(k, {
            name: 'compact-b',
            cpu: 2,
            mode: MIGRATE_ASYNC,
            reason: MR_COMPACTION,
            rounds: 2,
            select: pages,
            targets: [0, 1],
          }),
        ],
        figures: () => ({
          onNode1: d.host.pages.filter((f) => folioNid(k.mem, f) === 1).length,
          pages: d.host.pages.length,
        }),
      };
    },
  };
  return scenario;
}

describe('a driver callback that throws', () => {
  it('is a driver finding naming driver, callback, folio and step, with a replay token that reproduces it', () => {
    const r = exploreScenario(flaky(2), { strategy: 'random', schedules: 20, seed: 3 });
    expect(r.kind).toBe('driver');
    const f = r.finding;
    if (f?.kind !== 'driver') throw new Error('expected a driver finding');
    expect(f.data.driver).toBe('flaky');
    expect(f.data.callback).toBe('migrate_page');
    expect(f.data.folio).toBeGreaterThanOrEqual(0);
    expect(f.data.step).toBeGreaterThan(0);
    expect(f.data.error.name).toBe('DriverCallbackError');
    expect(f.message).toMatch(
      /^driver flaky: migrate_page on folio \d+: flaky\.migrate_page threw: Error: flaky lost its page list$/,
    );
    // Without stopOnDriverError the run went on to its end before the finding.
    expect(f.data.stop).toBe(false);
    const again = replay(scenarioTarget(flaky(2)), f.replay);
    expect(again.finding?.kind).toBe('driver');
    expect(again.finding?.message).toBe(f.message);
  });

  it('leaves every invariant holding at the end of the run, and the other pages migrated', () => {
    const run = runScenario(flaky(2));
    expect(run.error).toBeNull();
    expect(run.result?.status).toBe('completed');
    expect(run.violations).toEqual([]);
    expect(run.kernel.driverErrors.map((e) => `${e.driver}.${e.callback}`)).toEqual([
      'flaky.migrate_page',
    ]);
    expect(run.figures.pages).toBe(6);
    expect(run.kernel.shadow.verifyAll()).toEqual([]);
  });

  it('with stopOnDriverError ends the run at the error, in a state every invariant accepts', () => {
    const r = exploreScenario(flaky(2, true), { strategy: 'random', schedules: 5, seed: 3 });
    const f = r.finding;
    if (f?.kind !== 'driver') throw new Error('expected a driver finding');
    expect(f.data.stop).toBe(true);
    expect(f.shape.steps).toBe(f.data.step);
    // The run with no error check: nothing broken at the point it stopped, nor after.
    const run = runScenario(flaky(2, true));
    expect(run.violations).toEqual([]);
  });
});
