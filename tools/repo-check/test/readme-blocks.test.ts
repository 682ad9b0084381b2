import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import ts from 'typescript';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { baseCompilerOptions, discardedGeneratorCalls } from '../src/discarded-generators.js';
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
  'packages/cli/README.md',
];

const dir = join(REPO_ROOT, 'tools/repo-check/.readme-blocks', String(process.pid));
mkdirSync(dir, { recursive: true });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const blocks = READMES.flatMap((readme) =>
  readmeBlocks(readRepoFile(readme))
    .filter((b) => b.mode !== 'skip')
    .map((b) => {
      const file = join(dir, `${readme.replace(/\//g, '_').replace(/\.md$/, '')}_${b.line}.ts`);
      writeFileSync(file, b.code);
      return { ...b, readme, file };
    }),
);

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
    [...sources, ...blocks.map((b) => b.file)],
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
    const files = new Set(blocks.map((b) => b.file));
    const errors = ts
      .getPreEmitDiagnostics(program())
      .filter((d) => d.file !== undefined && files.has(d.file.fileName))
      .map((d) => {
        const block = blocks.find((b) => b.file === d.file?.fileName);
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
        return `${block?.readme}:${(block?.line ?? 0) + line + 1}: ${text}`;
      });
    expect(errors).toEqual([]);
  }, 60_000);

  for (const block of blocks.filter((b) => b.mode === 'run')) {
    it(`run: ${block.readme}, the block at line ${block.line}`, async () => {
      const printed: string[] = [];
      const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
        printed.push(format(...args));
      });
      try {
        await import(pathToFileURL(block.file).href);
      } finally {
        log.mockRestore();
      }
      if (block.output !== null) expect(printed.join('\n')).toBe(block.output);
    });
  }
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
