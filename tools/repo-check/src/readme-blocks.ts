/** How a README's `ts` block is tested. */
export type BlockMode = 'run' | 'typecheck' | 'skip';

/** One fenced `ts` block of a README. */
export interface ReadmeBlock {
  readonly code: string;
  /** The line of the opening fence, 1-based. */
  readonly line: number;
  readonly mode: BlockMode;
  /** What the block must print with console.log, when the README shows it; else null. */
  readonly output: string | null;
}

/**
 * The marker, on the line before a block's fence (blank lines between are allowed):
 * `<!-- readme-test: skip -->` for an illustrative fragment, `<!-- readme-test:
 * typecheck -->` for a block that must compile but not run (it writes files, or runs
 * long). Any other `ts` block is compiled and run as a module.
 */
const MARKER = /^<!--\s*readme-test:\s*(skip|typecheck)\s*-->$/;

/**
 * After a block, `<!-- readme-test: output -->` before the next fence makes that fence (a
 * `text` block) what the block must print, one `console.log` call per line.
 */
const OUTPUT_MARKER = /^<!--\s*readme-test:\s*output\s*-->$/;

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
      output: shownOutput(lines, end + 1),
    });
    i = end;
  }
  return blocks;
}

function closingFence(lines: readonly string[], open: number): number {
  for (let j = open + 1; j < lines.length; j++) if (/^```\s*$/.test(lines[j] as string)) return j;
  throw new Error(`line ${open + 1}: the fence is never closed`);
}

/** The `text` block announced by an output marker between `from` and the next fence. */
function shownOutput(lines: readonly string[], from: number): string | null {
  let marked = false;
  for (let j = from; j < lines.length; j++) {
    const line = lines[j] as string;
    if (OUTPUT_MARKER.test(line.trim())) marked = true;
    if (!/^```/.test(line)) continue;
    if (!marked) return null;
    if (!/^```text\s*$/.test(line))
      throw new Error(`line ${j + 1}: the output must be a text block`);
    return lines.slice(j + 1, closingFence(lines, j)).join('\n');
  }
  return null;
}
