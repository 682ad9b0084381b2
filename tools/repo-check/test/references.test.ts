import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkReferences } from '../src/references.js';
import { formatProblems, REPO_ROOT, readRepoFile, repoFiles } from '../src/repo-files.js';

/** A throwaway repository holding `files`. */
function fakeRepo(files: Record<string, string>) {
  const root = mkdtempSync(join(tmpdir(), 'repo-check-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return { root, files: Object.keys(files), read: (f: string) => files[f] as string };
}

describe('references', () => {
  it('every reference in the repository resolves', () => {
    const problems = checkReferences({
      root: REPO_ROOT,
      files: repoFiles(),
      read: (f) => readRepoFile(f),
    });
    expect(formatProblems(problems)).toBe('');
  });

  it('fails on citations of documents outside the repository and on § citations', () => {
    const outside = ['kernel-migration', 'md'].join('.');
    const repo = fakeRepo({
      'a.ts': `// see ${outside} §3.4\n// see the design card\n`,
    });
    const messages = checkReferences(repo).map((p) => `${p.line} ${p.message}`);
    expect(messages).toHaveLength(3);
    expect(messages[0]).toMatch(/^1 cites/);
    expect(messages[1]).toMatch(/^1 a § citation/);
    expect(messages[2]).toMatch(/^2 cites "design card"/);
  });

  it('fails on docs paths, anchors, links and package paths that name nothing', () => {
    const repo = fakeRepo({
      'docs/a.md': '# A title\n\n<a id="kept"></a>\n\nSee [b](b.md), [a](#a-title), [x](#nope).\n',
      'b.ts': [
        "// docs/a.md#kept and docs/a.md#a-title resolve; docs/a.md#gone and docs/c.md don't",
        '// packages/x/src/y.ts is missing; packages/*/src and packages/<name> are patterns',
        '',
      ].join('\n'),
    });
    const messages = checkReferences(repo).map((p) => `${p.file}:${p.line} ${p.message}`);
    expect(messages).toEqual([
      'docs/a.md:5 link b.md: docs/b.md does not exist',
      'docs/a.md:5 no anchor #nope here',
      'b.ts:1 docs/a.md has no anchor #gone',
      'b.ts:1 docs/c.md does not exist',
      'b.ts:2 packages/x/src/y.ts does not exist',
    ]);
  });
});
