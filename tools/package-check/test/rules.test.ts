import { describe, expect, test } from 'vitest';
import { checkManifest } from '../src/rules.js';

const good = {
  name: '@mmsim/example',
  version: '1.0.0',
  description: 'An example package for the checker tests',
  license: 'MIT',
  type: 'module',
  sideEffects: false,
  exports: {
    '.': { source: './src/index.ts', types: './dist/index.d.ts', default: './dist/index.js' },
  },
  files: ['dist', 'src'],
  publishConfig: { access: 'public' },
  dependencies: { '@mmsim/runtime': 'workspace:^', 'pure-rand': '^8.0.0' },
};
const readme = '# x\n\n```ts\nimport { x } from "@mmsim/example";\n```\n';

describe('package conventions', () => {
  test('a well-formed package passes', () => {
    expect(checkManifest(good, readme)).toEqual([]);
  });

  test.each([
    [{ type: 'commonjs' }, /ESM only/],
    [{ sideEffects: true }, /sideEffects/],
    [{ exports: './dist/index.js' }, /exports must map/],
    [{ exports: { '.': { default: './dist/index.js' } } }, /types/],
    [
      { exports: { '.': { default: './dist/index.js', types: './dist/index.d.ts' } } },
      /must come before/,
    ],
    [{ exports: { '.': { types: 'a.d.ts', require: 'a.cjs', default: 'a.js' } } }, /require/],
    [{ files: ['src'] }, /files/],
    [{ publishConfig: {} }, /publishConfig/],
    [{ dependencies: { '@mmsim/runtime': '^0.1.0' } }, /workspace/],
    [{ name: 'mmsim-runtime' }, /name/],
  ])('%j is reported', (patch, message) => {
    const problems = checkManifest({ ...good, ...patch }, readme);
    expect(problems.join('\n')).toMatch(message);
  });

  test('a README without an example, or no README, is reported', () => {
    expect(checkManifest(good, '# just a title')).toEqual([
      'README.md must show a usage example in a fenced code block',
    ]);
    expect(checkManifest(good, null)).toEqual(['README.md is missing']);
  });
});
