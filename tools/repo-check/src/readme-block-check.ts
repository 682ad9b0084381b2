import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import ts from 'typescript';
import { type ReadmeBlock, readmeBlocks } from './readme-blocks.js';
import type { Problem } from './repo-files.js';

/** A README block written to a file of its own, where the compiler and `import` reach it. */
export interface WrittenBlock extends ReadmeBlock {
  /** The README it comes from, as reported in problems. */
  readonly readme: string;
  /** The `.ts` file holding the block's code. */
  readonly file: string;
}

/**
 * Writes the blocks of a README that are not `skip` to `dir`, one `.ts` file each. The
 * directory must be one where the `@mmsim/*` packages the blocks import resolve (under
 * tools/repo-check, whose package.json lists them). `markdown` is the README's text, given
 * apart from its name so that a test can check text that is no repository file.
 */
export function writeReadmeBlocks(readme: string, markdown: string, dir: string): WrittenBlock[] {
  return readmeBlocks(markdown)
    .filter((b) => b.mode !== 'skip')
    .map((b) => {
      const file = join(dir, `${readme.replace(/\//g, '_').replace(/\.md$/, '')}_${b.line}.ts`);
      writeFileSync(file, b.code);
      return { ...b, readme, file };
    });
}

/**
 * The type errors in the blocks, each at its README line. `program` must include the
 * blocks' files; it is shared with other checks because building it is the expensive part.
 */
export function blockCompileProblems(
  program: ts.Program,
  blocks: readonly WrittenBlock[],
): Problem[] {
  const byFile = new Map(blocks.map((b) => [b.file, b]));
  return ts.getPreEmitDiagnostics(program).flatMap((d) => {
    const block = d.file === undefined ? undefined : byFile.get(d.file.fileName);
    if (block === undefined || d.file === undefined) return [];
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    return [{ file: block.readme, line: block.line + line + 1, message }];
  });
}

/**
 * Runs a block as a module (what it throws propagates) and compares what it printed with
 * `console.log` to the output the README shows for it, if any: the mismatch, or null. A
 * module is evaluated once per process, so each block runs once.
 */
export async function runReadmeBlock(block: WrittenBlock): Promise<Problem | null> {
  const printed: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => {
    printed.push(format(...args));
  };
  try {
    await import(pathToFileURL(block.file).href);
  } finally {
    console.log = log;
  }
  const shown = printed.join('\n');
  if (block.output === null || shown === block.output) return null;
  return {
    file: block.readme,
    line: block.line,
    message: `the block prints\n${shown}\nbut the README shows\n${block.output}`,
  };
}
