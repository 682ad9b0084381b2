import type { DeadlockReport } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import { cycleGraph, type ReportData, renderReport } from '../src/index.js';

const task = (id: number, name: string, cpu = id) => ({ id, name, cpu });

describe('cycleGraph', () => {
  test('one node per task of the cycle; each holds what the next one waits for', () => {
    const deadlock: DeadlockReport = {
      cycle: [
        {
          task: task(2, 'kworker'),
          waitsIn: 'folio_lock',
          resource: 'folio 0x1',
          heldBy: [task(4, 'kcompactd')],
        },
        {
          task: task(4, 'kcompactd'),
          waitsIn: 'lock_buffer',
          resource: 'bh 0',
          heldBy: [task(2, 'kworker')],
        },
      ],
      blocked: [],
    };
    const graph = cycleGraph(deadlock);
    expect(graph?.tasks).toEqual([
      {
        id: 2,
        name: 'kworker',
        cpu: 2,
        waitsIn: 'folio_lock',
        waitsFor: 'folio 0x1',
        holds: ['bh 0'],
      },
      {
        id: 4,
        name: 'kcompactd',
        cpu: 4,
        waitsIn: 'lock_buffer',
        waitsFor: 'bh 0',
        holds: ['folio 0x1'],
      },
    ]);
    expect(graph?.edges).toEqual([
      { from: 2, to: 4, resource: 'folio 0x1' },
      { from: 4, to: 2, resource: 'bh 0' },
    ]);
  });

  test('a holder outside the cycle (a shared lock) gets no node and no edge', () => {
    const deadlock: DeadlockReport = {
      cycle: [
        {
          task: task(1, 'a'),
          waitsIn: 'down_read',
          resource: 'rwsem',
          heldBy: [task(2, 'b'), task(9, 'reader')],
        },
        { task: task(2, 'b'), waitsIn: 'mutex_lock', resource: 'mutex', heldBy: [task(1, 'a')] },
      ],
      blocked: [],
    };
    const graph = cycleGraph(deadlock);
    expect(graph?.tasks.map((t) => t.id)).toEqual([1, 2]);
    expect(graph?.edges).toHaveLength(2);
  });

  test('a lost wake-up (sleepers, no cycle) has no graph', () => {
    const deadlock: DeadlockReport = {
      cycle: [],
      blocked: [
        { task: task(1, 'a'), waitsIn: 'wait_for_completion', resource: 'done', heldBy: [] },
      ],
    };
    expect(cycleGraph(deadlock)).toBeNull();
  });
});

describe('renderReport', () => {
  const data: ReportData = {
    summary: {
      command: 'run',
      scenario: 'x</script><script>alert(1)</script>',
      variant: 'v6.3',
      seed: 1,
      status: 'completed',
      replayCommand: null,
      finding: null,
    },
    cpus: [0],
    cycle: null,
    steps: [],
    totalSteps: 0,
    metrics: null,
    compare: null,
  };

  test('one file: elkjs and Chart.js inlined, no script or stylesheet fetched', () => {
    const html = renderReport(data);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('elkjs (EPL-2.0)');
    expect(html).toContain('Chart.js (MIT)');
    expect(html).not.toMatch(/<(script|link|img)\b[^>]*\b(src|href)="(?!data:)/);
  });

  test('data that contains </script> cannot close the data element', () => {
    const html = renderReport(data);
    const json = /<script type="application\/json" id="mmsim-data">([\s\S]*?)<\/script>/.exec(html);
    expect(JSON.parse(json?.[1] ?? '')).toEqual(data);
    expect(html).not.toContain('<script>alert(1)');
  });
});
