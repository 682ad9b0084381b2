import { VmStat } from '@mmsim/runtime';
import { builtinScenario, exploreScenario, instantiateScenario } from '@mmsim/scenarios';
import {
  type CompareRow,
  type ReportData,
  RunRecorder,
  reportOfComparison,
  reportOfFinding,
  reportOfRun,
} from '../src/index.js';

/**
 * Reports made from real runs of the built-in scenarios, as the CLI makes them: the
 * loop-bh deadlock found by exploring, pmbench-migrate run to the end, and pmbench-migrate
 * under two variants side by side.
 */
export function deadlockReport(): ReportData {
  const scenario = builtinScenario('loop-bh-deadlock');
  const result = exploreScenario(scenario, {
    schedules: 200,
    seed: 1,
    disable: ['page-lock-inversion'],
  });
  const finding = result.finding;
  if (finding === null || finding.kind !== 'deadlock') throw new Error('no deadlock found');
  const cpus = instantiateScenario(scenario, {}).kernel.rt.cpus.map((c) => c.id);
  return reportOfFinding(
    {
      command: 'explore',
      scenario: scenario.name,
      variant: String(scenario.config.variant),
      seed: 1,
      status: `found after ${result.schedules} schedule(s)`,
      replayCommand: `mmsim replay ${finding.replay}`,
      finding: finding.message,
    },
    finding,
    finding.steps ?? [],
    cpus,
  );
}

function pmbench(variant: 'v6.2' | 'v6.3') {
  const scenario = builtinScenario('pmbench-migrate');
  let recorder: RunRecorder | null = null;
  const { kernel } = instantiateScenario(scenario, {
    variant,
    onStep: (t, s) => recorder?.stepped(t, s),
  });
  const tlb = kernel.vm.tlbStats;
  const success = VmStat.itemId('pgmigrate_success').id;
  const fail = VmStat.itemId('pgmigrate_fail').id;
  const counters = () => ({
    ipis: tlb.ipisSent,
    flushes: tlb.shootdowns + tlb.localFlushAll + tlb.localFlushOne,
    shootdowns: tlb.shootdowns,
    migrated: kernel.vmstat.vmEvent(success),
    failed: kernel.vmstat.vmEvent(fail),
  });
  recorder = new RunRecorder(kernel.rt, { counters });
  const result = kernel.rt.run();
  return { kernel, recorder, result, totals: counters() };
}

export function runReport(): ReportData {
  const { kernel, recorder, result, totals } = pmbench('v6.2');
  return reportOfRun({
    summary: {
      command: 'run',
      scenario: 'pmbench-migrate',
      variant: 'v6.2',
      seed: result.seed,
      status: result.status,
      replayCommand: null,
      finding: null,
    },
    cpus: kernel.rt.cpus.map((c) => c.id),
    recorder,
    deadlock: result.deadlock,
    hasFinding: false,
    totals,
    vmstatDeltas: kernel.vmstat.entries().filter(([, v]) => v !== 0),
    virtualTimeNs: result.virtualTimeNs,
  });
}

export function compareReport(): ReportData {
  const rows: CompareRow[] = (['v6.2', 'v6.3'] as const).map((variant) => {
    const { result, totals } = pmbench(variant);
    return {
      variant,
      status: result.status,
      ...totals,
      virtualTimeNs: result.virtualTimeNs,
      pagesPerVirtualSecond: (totals.migrated * 1e9) / result.virtualTimeNs,
    };
  });
  return reportOfComparison(
    {
      command: 'compare',
      scenario: 'pmbench-migrate',
      variant: 'v6.2, v6.3',
      seed: 1,
      status: 'completed',
      replayCommand: null,
      finding: null,
    },
    rows,
  );
}
