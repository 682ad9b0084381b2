import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { baseCompilerOptions, discardedGeneratorCalls } from '../src/discarded-generators.js';
import { REPO_ROOT } from '../src/repo-files.js';

describe('discarded generator calls', () => {
  it('flags a bare call of a generator function, not yield*, void or an iterated call', () => {
    const code = [
      'function* sleep(): Generator<void, void, unknown> { yield; }',
      'function* task() {',
      '  sleep();',
      '  yield* sleep();',
      '  void sleep();',
      '  for (const _ of sleep()) {}',
      '  const g = sleep(); g.next();',
      '}',
      'task();',
      'type KernelGen = Generator<unknown, void, unknown>;',
      'const lock = { *sleep(): KernelGen { yield; } };',
      'lock.sleep();',
    ].join('\n');
    const options = { ...baseCompilerOptions(REPO_ROOT), types: [] };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, version) =>
      name === '/virtual/a.ts'
        ? ts.createSourceFile(name, code, version)
        : getSourceFile(name, version);
    const program = ts.createProgram(['/virtual/a.ts'], options, host);
    const found = discardedGeneratorCalls(program, '/virtual');
    expect(found.map((p) => `${p.line} ${p.message}`)).toEqual([
      '3 the generator returned by sleep() is discarded: use yield* (or void)',
      '9 the generator returned by task() is discarded: use yield* (or void)',
      '12 the generator returned by lock.sleep() is discarded: use yield* (or void)',
    ]);
  });
});
