import { describe, expect, it } from 'vitest';
import { formatProblems, REPO_ROOT } from '../src/repo-files.js';
import { checkTsconfigReferences } from '../src/tsconfig-references.js';

describe('tsconfig project references', () => {
  it("match each package's workspace dependencies (fix: pnpm check:repo --fix)", () => {
    expect(formatProblems(checkTsconfigReferences(REPO_ROOT).problems)).toBe('');
  });
});
