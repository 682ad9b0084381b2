import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Problem } from './repo-files.js';

/**
 * The rule: a package's `tsconfig.json` builds `src` only, so its project references are
 * exactly the workspace packages in its `dependencies`, `peerDependencies` and
 * `optionalDependencies`. Tests type-check through `tsconfig.test.json`, which resolves
 * every workspace package (devDependencies included) from source through the `source`
 * condition and has no references. The root `tsconfig.json` references every package.
 */
const RUNTIME_DEPENDENCY_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies'];

interface TsconfigFix {
  readonly file: string;
  readonly references: readonly string[];
}

interface Result {
  readonly problems: Problem[];
  readonly fixes: TsconfigFix[];
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

function referencePaths(tsconfig: Record<string, unknown>): string[] {
  const refs = tsconfig.references;
  if (!Array.isArray(refs)) return [];
  return refs.map((r) => String((r as { path?: unknown }).path));
}

/** Keeps the order of what stays, appends what is new. */
function merged(current: readonly string[], wanted: readonly string[]): string[] {
  const want = new Set(wanted);
  return [...current.filter((p) => want.has(p)), ...wanted.filter((p) => !current.includes(p))];
}

/** Compares every package's (and the root's) project references with its package.json. */
export function checkTsconfigReferences(root: string): Result {
  const problems: Problem[] = [];
  const fixes: TsconfigFix[] = [];
  const dirs = readdirSync(join(root, 'packages'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, 'packages', d.name, 'package.json')))
    .map((d) => d.name)
    .sort();
  const dirOf = new Map<string, string>();
  for (const dir of dirs) {
    dirOf.set(String(readJson(join(root, 'packages', dir, 'package.json')).name), dir);
  }
  const compare = (file: string, current: string[], wanted: string[]) => {
    const missing = wanted.filter((p) => !current.includes(p));
    const extra = current.filter((p) => !wanted.includes(p));
    if (missing.length === 0 && extra.length === 0) return;
    const parts = [
      missing.length > 0 ? `missing ${missing.join(', ')}` : '',
      extra.length > 0 ? `not a dependency: ${extra.join(', ')}` : '',
    ].filter((s) => s !== '');
    problems.push({ file, line: 0, message: `project references: ${parts.join('; ')}` });
    fixes.push({ file, references: merged(current, wanted) });
  };

  for (const dir of dirs) {
    const manifest = readJson(join(root, 'packages', dir, 'package.json'));
    const file = `packages/${dir}/tsconfig.json`;
    if (!existsSync(join(root, file))) {
      problems.push({ file, line: 0, message: 'missing' });
      continue;
    }
    const wanted: string[] = [];
    for (const field of RUNTIME_DEPENDENCY_FIELDS) {
      const deps = (manifest[field] ?? {}) as Record<string, string>;
      for (const name of Object.keys(deps)) {
        const target = dirOf.get(name);
        if (target !== undefined && !wanted.includes(`../${target}`)) wanted.push(`../${target}`);
      }
    }
    compare(file, referencePaths(readJson(join(root, file))), wanted);
    const testConfig = `packages/${dir}/tsconfig.test.json`;
    if (existsSync(join(root, testConfig))) {
      const refs = referencePaths(readJson(join(root, testConfig)));
      if (refs.length > 0) {
        problems.push({
          file: testConfig,
          line: 0,
          message: 'tests resolve workspace packages from source: no project references here',
        });
      }
    }
  }
  compare(
    'tsconfig.json',
    referencePaths(readJson(join(root, 'tsconfig.json'))),
    dirs.map((d) => `packages/${d}`),
  );
  return { problems, fixes };
}

/** Rewrites the `references` of each tsconfig a check found wrong. */
export function applyTsconfigFixes(root: string, fixes: readonly TsconfigFix[]): void {
  for (const { file, references } of fixes) {
    const tsconfig = readJson(join(root, file));
    tsconfig.references = references.map((path) => ({ path }));
    writeFileSync(join(root, file), `${JSON.stringify(tsconfig, null, 2)}\n`);
  }
  // Biome's layout, so that a fix does not fail the lint.
  if (fixes.length > 0) {
    const files = fixes.map((f) => f.file);
    execFileSync('npx', ['--no-install', 'biome', 'format', '--write', ...files], { cwd: root });
  }
}
