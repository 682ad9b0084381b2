import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ExplorationTarget, explore } from '@mmsim/explore';
import { scenarioTarget } from '@mmsim/scenarios';
import { describe, expect, test } from 'vitest';
import { builtInScenario } from '../src/catalog.js';
import type { CampaignReport } from '../src/commands/campaign.js';
import { EXIT_OK } from '../src/index.js';
import { mmsim } from './support/mmsim.js';

/**
 * rfc-lock-order in v6.3 with each run's task order recorded: `runs` gets the order of every
 * run the exploration counts as its own (reported through `onProgress`), not its probes.
 */
function recorded(): { target: ExplorationTarget; runs: string[]; onProgress: () => void } {
  const base = scenarioTarget(builtInScenario('rfc-lock-order'), { variant: 'v6.3' });
  const runs: string[] = [];
  let current: number[] = [];
  const target: ExplorationTarget = {
    name: base.name,
    identity: base.identity,
    instantiate(options) {
      const order: number[] = [];
      current = order;
      const onStep = options.runtime.onStep;
      return base.instantiate({
        runtime: {
          ...options.runtime,
          onStep: (task, step) => {
            order.push(task.id);
            onStep(task, step);
          },
        },
      });
    },
  };
  return { target, runs, onProgress: () => runs.push(current.join(' ')) };
}

describe('sharded dpor on rfc-lock-order v6.3', () => {
  test('shards 1/3 to 3/3 together run the unsharded search executions, each once', () => {
    const strategy = { kind: 'dpor', preemptionBound: 2 } as const;
    const whole = recorded();
    const all = explore(whole.target, { strategy, onProgress: whole.onProgress });
    expect(all.exhausted).toBe(true);
    expect(whole.runs).toHaveLength(all.executions);
    const union: string[] = [];
    let executions = 0;
    for (const index of [0, 1, 2]) {
      const part = recorded();
      const r = explore(part.target, {
        strategy,
        shard: { index, count: 3 },
        onProgress: part.onProgress,
      });
      expect(r.exhausted).toBe(true);
      expect(part.runs).toHaveLength(r.executions);
      expect(r.executions).toBeLessThan(all.executions);
      executions += r.executions;
      union.push(...part.runs);
    }
    expect(executions).toBe(all.executions);
    expect(new Set(union).size).toBe(union.length);
    expect(union.sort()).toEqual([...whole.runs].sort());
  }, 300_000);

  test('mmsim explore --shard K/3 and mmsim merge: exhausted, the unsharded count of executions', () => {
    const args = ['explore', 'rfc-lock-order', '--variant', 'v6.3', '--strategy', 'dpor:1'];
    const run = mmsim([...args, '--json']);
    expect(run.stderr).toBe('');
    const whole = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(whole.exhausted).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'mmsim-dpor-shards-'));
    const files = [1, 2, 3].map((k) => {
      const r = mmsim([...args, '--shard', `${k}/3`, '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(EXIT_OK);
      const file = join(dir, `shard-${k}.json`);
      writeFileSync(file, r.stdout);
      return file;
    });
    const merged = mmsim(['merge', ...files, '--json']);
    expect(merged.stderr).toBe('');
    expect(merged.code).toBe(EXIT_OK);
    const m = JSON.parse(merged.stdout) as Record<string, unknown>;
    expect(m).toMatchObject({
      exhausted: true,
      stoppedBy: 'exhausted',
      bound: 1,
      executions: whole.executions,
      shards: 3,
    });
    // Each shard wrote its class set: the exact count, in the unsharded run's words.
    expect(m.classes).toBe(whole.classes);
    expect(m.message).toBe(whole.message);
    // With 30 schedules in all (10 a shard), a shard stops at its limit: not exhausted.
    const cut = [1, 2, 3].map((k) => {
      const r = mmsim([...args, '--shard', `${k}/3`, '--schedules', '30', '--json']);
      const file = join(dir, `cut-${k}.json`);
      writeFileSync(file, r.stdout);
      return { file, exhausted: (JSON.parse(r.stdout) as { exhausted: boolean }).exhausted };
    });
    expect(cut.some((c) => !c.exhausted)).toBe(true);
    const partial = mmsim(['merge', ...cut.map((c) => c.file), '--json']);
    expect(JSON.parse(partial.stdout)).toMatchObject({ exhausted: false });
  }, 300_000);

  test('campaign --shard 1/2 and 2/2 merged: each dpor execution once, exhausted', () => {
    const args = ['campaign', '--scenario', 'rfc-lock-order', '--strategy', 'dpor:1'];
    const more = ['--schedules', '1000', '--fault-probability', '0', '--json'];
    const whole = JSON.parse(mmsim([...args, ...more]).stdout) as CampaignReport;
    const cell = whole.cells[0] as CampaignReport['cells'][number];
    expect(cell).toMatchObject({ strategy: 'dpor:1', exhausted: true });
    const dir = mkdtempSync(join(tmpdir(), 'mmsim-dpor-campaign-'));
    const files = [1, 2].map((k) => {
      const file = join(dir, `campaign-${k}.json`);
      writeFileSync(file, mmsim([...args, ...more, '--shard', `${k}/2`]).stdout);
      return file;
    });
    const merged = JSON.parse(mmsim(['merge', ...files, '--json']).stdout) as CampaignReport;
    expect(merged.cells[0]).toMatchObject({ exhausted: true, schedules: cell.schedules });
    // The classes: each shard's cell carries its class set, the merge counts their union,
    // which is the unsharded cell's count (not the sum, not a bound).
    expect(cell.classes).toBeGreaterThan(0);
    expect(cell.classSet).toBeUndefined();
    const shardCells = files.map(
      (f) => (JSON.parse(readFileSync(f, 'utf8')) as CampaignReport).cells[0]!,
    );
    for (const c of shardCells) expect(typeof c.classSet).toBe('string');
    expect(merged.cells[0]!.classes).toBe(cell.classes);
    expect(merged.cells[0]!.classSet).toBeUndefined();
    expect(merged.cells[0]!.classesAtMost).toBeUndefined();
    const md = mmsim(['merge', ...files]).stdout;
    expect(md).toContain(`covering ${cell.classes} interleaving classes`);
    expect(mmsim([...args, '--schedules', '1000', '--fault-probability', '0']).stdout).toContain(
      `explored, ${cell.schedules} execution(s) covering ${cell.classes} interleaving classes`,
    );
    // A shard without its set (an older version): an upper bound, said so.
    const old = JSON.parse(readFileSync(files[0]!, 'utf8')) as CampaignReport;
    const { classSet: _dropped, ...oldCell } = old.cells[0]!;
    const oldFile = join(dir, 'campaign-old.json');
    writeFileSync(oldFile, JSON.stringify({ ...old, cells: [oldCell] }));
    const bound = JSON.parse(
      mmsim(['merge', oldFile, files[1]!, '--json']).stdout,
    ) as CampaignReport;
    expect(bound.cells[0]).toMatchObject({ classesAtMost: true });
    expect(bound.cells[0]!.classes).toBe(
      (oldCell.classes as number) + (shardCells[1]!.classes as number),
    );
    expect(mmsim(['merge', oldFile, files[1]!]).stdout).toContain('covering at most');
    // A set that does not hold as many classes as the cell says: bad usage, one line.
    const liar = join(dir, 'campaign-liar.json');
    writeFileSync(
      liar,
      JSON.stringify({ ...old, cells: [{ ...old.cells[0]!, classes: oldCell.classes! + 1 }] }),
    );
    const refused = mmsim(['merge', liar, files[1]!]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/classSet holds \d+ classes but classes is/);
  }, 300_000);
});
