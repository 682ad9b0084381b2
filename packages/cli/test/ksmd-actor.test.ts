import { runScenario } from '@mmsim/scenarios';
import { describe, expect, test } from 'vitest';
import {
  actorScenarioProblem,
  actorScenarioSchema,
  scenarioFromActors,
} from '../src/scenario-actors.js';

/*
 * The `ksmd` actor of scenario files and `mergeable` processes (mm/ksm.c, 6.3): equal-sized
 * mergeable processes hold the same word at each page index, so ksmd merges them, and a
 * migrator then moves KSM pages.
 */

function file(extra: Record<string, unknown> = {}) {
  return {
    name: 'ksm-file',
    config: { nodes: [{ pages: 256 }, { pages: 256 }] },
    processes: [
      { name: 'one', pages: 4, mergeable: true },
      { name: 'two', pages: 4, mergeable: true },
    ],
    actors: [
      { type: 'ksmd', cpu: 1, batches: 20, pagesToScan: 8, sleepNs: 1_000_000 },
      {
        type: 'migrator',
        cpu: 0,
        process: 'one',
        mode: 'MIGRATE_SYNC',
        reason: 'MR_SYSCALL',
        rounds: 2,
        targets: [1, 0],
      },
    ],
    ...extra,
  };
}

describe('scenario files: the ksmd actor', () => {
  test('merges the mergeable processes page by page; the run is clean', () => {
    const parsed = actorScenarioSchema.parse(file());
    expect(actorScenarioProblem(parsed)).toBeNull();
    const run = runScenario(scenarioFromActors(parsed));
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
    const k = run.kernel;
    expect(k.vm.ksmStats.pagesShared).toBe(4);
    expect(k.vm.ksmStats.pagesSharing).toBe(4);
    const [one, two] = k.vm.processes;
    const a = one!.vmas[0]!.start;
    const b = two!.vmas[0]!.start;
    for (let i = 0; i < 4; i++) {
      const f = k.vm.followPage(one!, a + i * 4096);
      expect(k.vm.ksmStableNode(f)?.kpfn).toBe(f);
      expect(k.vm.followPage(two!, b + i * 4096)).toBe(f);
    }
  });

  test('without mergeable nothing merges; a bad ksmd field is a typed problem', () => {
    const plain = actorScenarioSchema.parse(
      file({
        processes: [
          { name: 'one', pages: 4 },
          { name: 'two', pages: 4 },
        ],
      }),
    );
    expect(runScenario(scenarioFromActors(plain)).kernel.vm.ksmStats.pagesShared).toBe(0);
    const bad = actorScenarioSchema.safeParse(
      file({ actors: [{ type: 'ksmd', cpu: 0, batches: 0 }] }),
    );
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toMatch(/ksm_do_scan batches/);
  });
});
