import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { EXIT_FINDING, EXIT_OK } from '../src/index.js';
import { mmsim } from './support/mmsim.js';

const examples = fileURLToPath(new URL('../../../examples', import.meta.url));

/**
 * Every scenario file under examples/ but examples/drivers (TypeScript), examples/campaign (a
 * Kubernetes Job and a CI matrix that run campaigns, not scenarios) and node_modules.
 */
function scenarioFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      if (
        entry === 'node_modules' ||
        path === join(examples, 'drivers') ||
        path === join(examples, 'campaign')
      ) {
        continue;
      }
      out.push(...scenarioFiles(path));
    } else if (dir !== examples && /\.(ya?ml|json)$/.test(entry)) {
      out.push(path);
    }
  }
  return out;
}

const files = scenarioFiles(examples);

describe('the example programs under examples/', () => {
  test('there are examples: numactl test programs, a stress-ng loop, an LTP case', () => {
    const names = files.map((f) => relative(examples, f));
    expect(names).toEqual(
      expect.arrayContaining([
        'numactl/move_pages.yaml',
        'numactl/migrate_pages.yaml',
        'numactl/mbind_mig_pages.yaml',
        'stress-ng/numa.yaml',
        'ltp/move_pages10.yaml',
        'ltp/migrate_pages01.yaml',
      ]),
    );
  });

  test.each(files.map((f) => [relative(examples, f), f]))(
    'mmsim run examples/%s exits 0 (every expectation holds)',
    (_name, path) => {
      const run = mmsim(['run', path]);
      expect(run.stderr).toBe('');
      expect(run.stdout).toContain('finding: none');
      expect(run.code).toBe(EXIT_OK);
    },
  );

  test('a copy of an example with one wrong expectation exits 1 and prints the expected and actual values', () => {
    const text = readFileSync(join(examples, 'numactl/move_pages.yaml'), 'utf8');
    const line = text.split('\n').find((l) => l.includes('moved.status[touched]'));
    expect(line).toBeDefined();
    // Claims that every touched page went to node 1.
    const wrong = text.replace(
      line as string,
      "              - { check: 'moved.status[touched]', expect: { value: 'fill(31, 1)' } }",
    );
    const path = join(mkdtempSync(join(tmpdir(), 'mmsim-examples-')), 'move_pages.yaml');
    writeFileSync(path, wrong);
    const run = mmsim(['run', path]);
    expect(run.code).toBe(EXIT_FINDING);
    expect(run.stdout).toContain('finding: expectation:');
    expect(run.stdout).toContain('steps[7] check: value expected [1,1,1,');
    expect(run.stdout).toMatch(/expected: \[1,1,1,1,1,1,/);
    expect(run.stdout).toMatch(/actual: {3}\[0,1,1,0,1,0,/);
  });
});
