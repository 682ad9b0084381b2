import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { baseCompilerOptions, discardedGeneratorCalls } from '../src/discarded-generators.js';
import {
  blockCompileProblems,
  runReadmeBlock,
  writeReadmeBlocks,
} from '../src/readme-block-check.js';
import { readmeBlocks } from '../src/readme-blocks.js';
import { formatProblems, REPO_ROOT, readRepoFile, repoFiles } from '../src/repo-files.js';

/**
 * The READMEs whose `ts` blocks are compiled and run from the README itself. Each block is
 * written to a git-ignored file under tools/repo-check/.readme-blocks (where every
 * `@mmsim/*` package it imports resolves), type-checked with the packages' options, and
 * imported. (This file also holds the whole-repository discarded-generator check, which
 * shares its TypeScript program.)
 */
const READMES = [
  'README.md',
  'packages/runtime/README.md',
  'packages/folio/README.md',
  'packages/page-lock/README.md',
  'packages/lru/README.md',
  'packages/rmap/README.md',
  'packages/migrate/README.md',
  'packages/kernel/README.md',
  'packages/explore/README.md',
  'packages/scenarios/README.md',
  'packages/trace/README.md',
  'packages/report/README.md',
  'packages/cli/README.md',
  'packages/driver-kit/README.md',
];

const dir = join(REPO_ROOT, 'tools/repo-check/.readme-blocks', String(process.pid));
mkdirSync(dir, { recursive: true });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const blocks = READMES.flatMap((readme) => writeReadmeBlocks(readme, readRepoFile(readme), dir));

/**
 * A README with a broken example of each kind, which the checks must catch: a block with a
 * type error, and a block whose output is not the one shown. Its blocks join the shared
 * program (its type error is left out of the READMEs' own check).
 */
const BROKEN_README = [
  '```ts',
  "const pages: number = 'sixteen';",
  'console.log(pages);',
  '```',
  '',
  '```ts',
  "console.log('nr_succeeded=15');",
  '```',
  '',
  '<!-- readme-test: output -->',
  '',
  '```text',
  'nr_succeeded=16',
  '```',
].join('\n');
const broken = writeReadmeBlocks('BROKEN.md', BROKEN_README, dir);

/**
 * One TypeScript program over every package and tool, and the README blocks: building it
 * is the expensive part, so the discarded-generator check shares it.
 */
let shared: ts.Program | null = null;
function program(): ts.Program {
  if (shared !== null) return shared;
  const sources = repoFiles()
    .filter((f) => /^(packages|tools)\/[^/]+\/(src|test)\/.*\.ts$/.test(f))
    .map((f) => join(REPO_ROOT, f));
  shared = ts.createProgram(
    [...sources, ...blocks.map((b) => b.file), ...broken.map((b) => b.file)],
    baseCompilerOptions(REPO_ROOT),
  );
  return shared;
}

describe('discarded generator calls', () => {
  it('none in the packages, tools and README blocks (a sleeping call without yield* does nothing)', () => {
    expect(formatProblems(discardedGeneratorCalls(program(), REPO_ROOT))).toBe('');
  }, 60_000);
});

describe('README code blocks', () => {
  it('compile', () => {
    expect(formatProblems(blockCompileProblems(program(), blocks))).toBe('');
  }, 60_000);

  for (const block of blocks.filter((b) => b.mode === 'run')) {
    it(`run: ${block.readme}, the block at line ${block.line}`, async () => {
      const problem = await runReadmeBlock(block);
      expect(problem === null ? '' : formatProblems([problem])).toBe('');
    });
  }
});

describe('a broken README example', () => {
  it('fails to compile when it has a type error', () => {
    expect(formatProblems(blockCompileProblems(program(), broken))).toBe(
      "BROKEN.md:2: Type 'string' is not assignable to type 'number'.",
    );
  }, 60_000);

  it('fails to run when it prints other than the output shown', async () => {
    expect(await runReadmeBlock(broken[1]!)).toEqual({
      file: 'BROKEN.md',
      line: 6,
      message: 'the block prints\nnr_succeeded=15\nbut the README shows\nnr_succeeded=16',
    });
  });
});

describe('readmeBlocks', () => {
  it('reads ts blocks with their markers and shown output, and ignores other fences', () => {
    const md = [
      '```sh',
      'echo no',
      '```', // 1-3
      '```ts',
      'run();',
      '```', // 4-6
      'It prints:',
      '<!-- readme-test: output -->',
      '',
      '```text',
      'ok',
      '```', // 7-12
      '<!-- readme-test: skip -->',
      '',
      '```ts',
      'fragment',
      '```', // 13-17
      '<!-- readme-test: typecheck -->',
      '```ts',
      'compiles();',
      '```', // 18-21
    ].join('\n');
    expect(readmeBlocks(md)).toEqual([
      { code: 'run();\n', line: 4, mode: 'run', output: 'ok' },
      { code: 'fragment\n', line: 15, mode: 'skip', output: null },
      { code: 'compiles();\n', line: 19, mode: 'typecheck', output: null },
    ]);
  });
});
