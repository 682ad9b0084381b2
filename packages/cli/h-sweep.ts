import { pmbenchMigrate, runScenario } from '@mmsim/scenarios';
const cfgs = JSON.parse(process.argv[2]!);
const costs = JSON.parse(process.argv[3] ?? '{}');
for (const c of cfgs) {
  const out: any = {};
  for (const variant of ['v6.2', 'v6.3-rc1', 'v6.3'] as const) {
    const t = Date.now();
    const run = runScenario(pmbenchMigrate(c), { variant, checkSteps: false, costs });
    out[variant] = { ...run.figures, wall: Date.now() - t, status: run.result?.status };
  }
  const a = out['v6.2'];
  const line = [JSON.stringify(c), 'v62 ns/page', (a.migrationNs / a.pagesMigrated).toFixed(0), 'ipis', a.ipis, 'fail', a.pagesFailed];
  for (const v of ['v6.3-rc1', 'v6.3']) { const b = out[v]; line.push(v, 'ipis', b.ipis, 'fail', b.pagesFailed, 'drop%', (100 * (1 - b.ipis / a.ipis)).toFixed(2), 'gain%', (100 * (b.pagesPerSecond / a.pagesPerSecond - 1)).toFixed(1), 'wall', b.wall); }
  console.log(line.join(' '));
}
