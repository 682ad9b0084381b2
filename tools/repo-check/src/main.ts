/**
 * `pnpm check:repo [--fix]`: the repository checks that need no
 * type information, from the command line. `--fix` rewrites tsconfig project references
 * to match each package.json. The same checks run as tests in `pnpm test`.
 */
import { checkReferences } from './references.js';
import { formatProblems, REPO_ROOT, readRepoFile, repoFiles } from './repo-files.js';
import { applyTsconfigFixes, checkTsconfigReferences } from './tsconfig-references.js';

const fix = process.argv.includes('--fix');
const tsconfigs = checkTsconfigReferences(REPO_ROOT);
if (fix) applyTsconfigFixes(REPO_ROOT, tsconfigs.fixes);
const problems = [
  ...(fix ? [] : tsconfigs.problems),
  ...checkReferences({ root: REPO_ROOT, files: repoFiles(), read: (f) => readRepoFile(f) }),
];
if (fix && tsconfigs.fixes.length > 0) {
  console.log(`rewrote ${tsconfigs.fixes.map((f) => f.file).join(', ')}`);
}
if (problems.length > 0) {
  console.error(formatProblems(problems));
  process.exitCode = 1;
}
