import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EXIT_OK, EXIT_USAGE } from '../src/index.js';
import { mmsim } from './support/mmsim.js';

const example = fileURLToPath(new URL('../../../examples/tiering/two-tier.yaml', import.meta.url));

/** The example with `edit` applied to its text, written to a temporary file. */
function variantOf(edit: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mmsim-tiering-'));
  const path = join(dir, 'two-tier.yaml');
  const text = readFileSync(example, 'utf8').replace(
    '../../packages/cli/schema/scenario-file.schema.json',
    fileURLToPath(new URL('../schema/scenario-file.schema.json', import.meta.url)),
  );
  writeFileSync(path, edit(text));
  return path;
}

describe('scenario-file actors kswapd-demote and task-numa-work (examples/tiering/two-tier.yaml)', () => {
  it('demotes to the CPU-less node and promotes the touched pages back, both in the cost table', () => {
    const { code, stdout, stderr } = mmsim(['run', example, '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(EXIT_OK);
    const out = JSON.parse(stdout) as {
      vmstat: Record<string, number>;
      reasonCosts: Array<{ reason: string; succeeded: number; retries: number }>;
      finding: unknown;
    };
    expect(out.finding).toBeNull();
    expect(out.vmstat.pgdemote_kswapd).toBeGreaterThan(0);
    expect(out.vmstat.pgpromote_success).toBeGreaterThan(0);
    expect(out.vmstat.numa_pte_updates).toBeGreaterThan(0);
    const by = new Map(out.reasonCosts.map((r) => [r.reason, r]));
    expect(by.get('demotion')?.succeeded).toBe(out.vmstat.pgdemote_kswapd);
    expect(by.get('numa_misplaced')?.succeeded).toBe(out.vmstat.pgpromote_success);
  });

  it('prints the machine line for a CXL-like node, and none for a default machine', () => {
    expect(mmsim(['run', example]).stdout).toMatch(
      /^ {2}machine: node 1 memory access x2 copy x2$/m,
    );
    const distances = variantOf((t) => t.replace('[[10, 20], [20, 10]]', '[[10, 31], [31, 10]]'));
    expect(mmsim(['run', distances]).stdout).toMatch(/machine: distances \[10 31; 31 10\], node 1/);
    expect(mmsim(['run', 'numa-balancing']).stdout).not.toMatch(/machine:/);
  });

  const BAD: Array<[string, (t: string) => string, RegExp]> = [
    ['a numa_balancing mode 4', (t) => t.replace('mode: 2', 'mode: 4'), /actors\[1\]\.mode/],
    [
      'a demotion node the machine lacks',
      (t) => t.replace('node: 0, batch', 'node: 7, batch'),
      /actors\[0\]\.node/,
    ],
    [
      'two task-numa-work actors with different modes',
      (t) => `${t}  - { type: task-numa-work, cpu: 1, process: app, mode: 1, scanDelayMs: 1 }\n`,
      /actors\[3\]\.mode/,
    ],
    [
      'a task-numa-work of an unknown process',
      (t) => t.replace('process: app, mode', 'process: db, mode'),
      /actors\[1\]\.process/,
    ],
    [
      'a distance table with 10 off the diagonal',
      (t) => t.replace('[[10, 20], [20, 10]]', '[[10, 10], [20, 10]]'),
      /distances\[0\]\[1\]/,
    ],
    [
      'a memory factor below 1',
      (t) => t.replace('accessFactor: 2', 'accessFactor: 0.5'),
      /accessFactor/,
    ],
  ];
  for (const [what, edit, message] of BAD) {
    it(`rejects ${what}: exit 2, one line on stderr`, () => {
      const { code, stderr } = mmsim(['run', variantOf(edit)]);
      expect(code).toBe(EXIT_USAGE);
      expect(stderr).toMatch(message);
      expect(stderr.trim().split('\n')).toHaveLength(1);
    });
  }
});
