import { expect, it } from 'vitest';
import { runScenario } from '../src/index.js';
import { sharedPageScenario } from './shared-page.js';

it('probe', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const run = runScenario(sharedPageScenario(), { variant: 'v6.3', strategy: 'random', seed, invariantStride: 1 });
    if (run.error) console.log(seed, run.error.message);
    if (run.violations.length) console.log(seed, run.violations[0]);
    expect(run.result?.status).toBe('completed');
  }
});
