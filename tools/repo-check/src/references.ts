import { existsSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { markdownAnchors } from './markdown-anchors.js';
import type { Problem } from './repo-files.js';

/** The files whose text is checked: code, docs, configuration. */
const CHECKED = /\.(ts|tsx|js|mjs|cjs|md|json|ya?ml)$|^\.ci\//;
/** Generated or third-party text, and the lockfile. */
const SKIPPED = /(^|\/)(node_modules|dist|docs\/api)\/|^pnpm-lock\.yaml$/;
/** Release notes name paths as they were; they are history, not references. */
const HISTORY = /^\.changeset\/|(^|\/)CHANGELOG\.md$/;
/** This checker and its tests spell out what they look for. */
const SELF = /^tools\/repo-check\//;

/** Documents that are not in the repository, and must not be cited. */
const OUTSIDE = [/kernel-migration\.md/i, /\bDESIGN\.md\b/, /design card/i];
/** A `docs/...` path, with an optional anchor. */
const DOCS_PATH = /(?<![\w./@-])docs\/[\w./-]*[\w/](?:#[\w-]+)?/g;
/** A `packages/...` or `tools/...` path. */
const TREE_PATH = /(?<![\w./@$-])(?:packages|tools)\/[\w.-]+(?:\/[\w.-]+)*/g;
/** A relative markdown link target. */
const MD_LINK = /\]\(([^)\s]+)\)/g;
/** Generated output a reference may name although it is not committed. */
const GENERATED = /^(docs\/api|tools\/repo-check\/\.readme-blocks)(\/|$)/;

/** What the checker needs of the repository: which files exist and their text. */
export interface RepoView {
  readonly root: string;
  readonly files: readonly string[];
  readonly read: (file: string) => string;
}

/**
 * Every reference in the repository's code and docs that does not resolve: a citation of a
 * document outside the repository, a `§` citation, a `docs/...` path or anchor, a relative
 * markdown link, or a `packages/...` / `tools/...` path that names nothing.
 */
export function checkReferences(repo: RepoView): Problem[] {
  const problems: Problem[] = [];
  const anchorCache = new Map<string, Set<string>>();
  const exists = (path: string): boolean =>
    GENERATED.test(path) || existsSync(join(repo.root, path));
  const anchorsOf = (path: string): Set<string> => {
    let anchors = anchorCache.get(path);
    if (anchors === undefined) {
      anchors = markdownAnchors(repo.read(path));
      anchorCache.set(path, anchors);
    }
    return anchors;
  };
  /** Whether `path#anchor` resolves; returns the problem, or null. */
  const resolve = (path: string, anchor: string | null): string | null => {
    const clean = path.replace(/\/$/, '');
    if (!exists(clean)) return `${path} does not exist`;
    if (anchor !== null && clean.endsWith('.md') && !anchorsOf(clean).has(anchor)) {
      return `${clean} has no anchor #${anchor}`;
    }
    return null;
  };

  for (const file of repo.files) {
    if (!CHECKED.test(file) || SKIPPED.test(file) || SELF.test(file)) continue;
    const text = repo.read(file);
    const history = HISTORY.test(file);
    const lines = text.split('\n');
    lines.forEach((line, i) => {
      const at = (message: string) => problems.push({ file, line: i + 1, message });
      for (const re of OUTSIDE) {
        const m = re.exec(line);
        if (m !== null) at(`cites "${m[0]}", which is not in the repository`);
      }
      if (line.includes('§')) {
        at('a § citation: cite the kernel source (file, function, version) or docs/... instead');
      }
      if (history) return;
      for (const m of line.matchAll(DOCS_PATH)) {
        const [path, anchor] = splitAnchor(m[0]);
        const problem = resolve(path, anchor);
        if (problem !== null) at(problem);
      }
      for (const m of line.matchAll(TREE_PATH)) {
        const next = line[(m.index ?? 0) + m[0].length];
        if (next !== undefined && '*<{$'.includes(next)) continue;
        const path = m[0].replace(/\.+$/, '');
        if (!exists(path)) at(`${path} does not exist`);
      }
      if (!file.endsWith('.md')) return;
      for (const m of line.matchAll(MD_LINK)) {
        const target = m[1] as string;
        if (/^[a-z][a-z+.-]*:/i.test(target)) continue;
        const [path, anchor] = splitAnchor(target);
        if (path === '') {
          if (anchor !== null && !anchorsOf(file).has(anchor)) at(`no anchor #${anchor} here`);
          continue;
        }
        const problem = resolve(normalize(join(dirname(file), path)), anchor);
        if (problem !== null) at(`link ${target}: ${problem}`);
      }
    });
  }
  return problems;
}

function splitAnchor(ref: string): [string, string | null] {
  const hash = ref.indexOf('#');
  return hash < 0 ? [ref, null] : [ref.slice(0, hash), ref.slice(hash + 1)];
}
