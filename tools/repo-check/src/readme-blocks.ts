/** How a README's `ts` block is tested. */
export type BlockMode = 'run' | 'typecheck' | 'skip';

/** One fenced `ts` block of a README. */
export interface ReadmeBlock {
  readonly code: string;
  /** The line of the opening fence, 1-based. */
  readonly line: number;
  readonly mode: BlockMode;
}

/**
 * The marker, on the line before a block's fence (blank lines between are allowed):
 * `<!-- readme-test: skip -->` for an illustrative fragment, `<!-- readme-test:
 * typecheck -->` for a block that must compile but not run (it writes files, or runs
 * long). Any other `ts` block is compiled and run as a module.
 */
const MARKER = /^<!--\s*readme-test:\s*(skip|typecheck)\s*-->$/;

/** The fenced `ts` / `typescript` blocks of a markdown document. */
export function readmeBlocks(markdown: string): ReadmeBlock[] {
  const lines = markdown.split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i] as string)) {
      if (/^```/.test(lines[i] as string)) i = closingFence(lines, i);
      continue;
    }
    const end = closingFence(lines, i);
    let before = i - 1;
    while (before >= 0 && (lines[before] as string).trim() === '') before--;
    const marker = before >= 0 ? MARKER.exec((lines[before] as string).trim()) : null;
    blocks.push({
      code: `${lines.slice(i + 1, end).join('\n')}\n`,
      line: i + 1,
      mode: marker === null ? 'run' : (marker[1] as BlockMode),
    });
    i = end;
  }
  return blocks;
}

function closingFence(lines: readonly string[], open: number): number {
  for (let j = open + 1; j < lines.length; j++) if (/^```\s*$/.test(lines[j] as string)) return j;
  throw new Error(`line ${open + 1}: the fence is never closed`);
}
