/** One lock in the documented lock order. */
export interface LockNode {
  readonly name: string;
  /** Whether the model has it (false for lines marked `(not modelled)`). */
  readonly modelled: boolean;
  /** The names of the locks above it on its path, outermost first. */
  readonly ancestors: readonly string[];
  readonly line: number;
}

/** The marker that precedes the tree's fenced block in docs/locking.md. */
export const TREE_MARKER = '<!-- lock-order-tree -->';
/** Lines indented this far or more continue the description of the line above. */
const CONTINUATION_INDENT = 20;

/**
 * Reads the lock-order tree from a markdown document: the first fenced block after
 * `<!-- lock-order-tree -->`, one lock per line, two spaces of indentation per level, the
 * lock's name first and a description after it.
 */
export function parseLockTree(markdown: string): LockNode[] {
  const lines = markdown.split('\n');
  const marker = lines.findIndex((l) => l.trim() === TREE_MARKER);
  if (marker < 0) throw new Error(`no ${TREE_MARKER} in the document`);
  const open = lines.findIndex((l, i) => i > marker && l.startsWith('```'));
  const nodes: LockNode[] = [];
  const path: string[] = [];
  for (let i = open + 1; i < lines.length && !lines[i]?.startsWith('```'); i++) {
    const line = lines[i] as string;
    const indent = line.length - line.trimStart().length;
    if (line.trim() === '' || indent >= CONTINUATION_INDENT) continue;
    if (indent % 2 !== 0 || indent / 2 > path.length) {
      throw new Error(`line ${i + 1}: indentation ${indent} does not fit the tree`);
    }
    const depth = indent / 2;
    const name = line.trim().split(/\s+/)[0] as string;
    path.length = depth;
    nodes.push({
      name,
      modelled: !/\(not modelled\)/.test(line),
      ancestors: [...path],
      line: i + 1,
    });
    path.push(name);
  }
  return nodes;
}

/**
 * The locks the model's code declares: the first word of the name given to each
 * `new Spinlock(rt, name)`, `new Mutex(...)` or `new RwSemaphore(...)`, with where.
 */
export function declaredLocks(
  files: readonly { path: string; text: string }[],
): Map<string, string> {
  const found = new Map<string, string>();
  const re = /new (?:Spinlock|Mutex|RwSemaphore)\(\s*[\w.#]+,\s*(['"`])(.*?)\1/g;
  for (const { path, text } of files) {
    for (const m of text.matchAll(re)) {
      const name = (m[2] as string).trim().split(/\s+/)[0] as string;
      if (!found.has(name)) found.set(name, path);
    }
  }
  return found;
}

/** The page-lock dependency checker's kinds of held lock, by the names the tree uses. */
export const CHECKER_KIND_NAMES: Readonly<Record<string, string>> = {
  folio: 'PG_locked',
  buffer: 'BH_Lock',
  writeback: 'PG_writeback',
};

/**
 * Kinds of held lock that stand for locks declared elsewhere (`lock`: a driver's own
 * spinlock or mutex, which the tree names by its own name, as every declared lock).
 */
export const CHECKER_OTHER_KINDS: ReadonlySet<string> = new Set(['lock']);

/** The kinds in `export type HeldKind = 'a' | 'b'` of the checker's source. */
export function checkerKinds(source: string): string[] {
  const m = /export type HeldKind\s*=\s*([^;]+);/.exec(source);
  if (m === null) throw new Error('no HeldKind type in the dependency checker');
  return [...(m[1] as string).matchAll(/'([^']+)'/g)]
    .map((k) => k[1] as string)
    .filter((k) => !CHECKER_OTHER_KINDS.has(k));
}
