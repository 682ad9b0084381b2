/** What a package.json looks like to the checker: parsed JSON, nothing assumed. */
export type Manifest = Record<string, unknown>;

/**
 * The mmsim package conventions (docs/architecture.md#package-conventions), beyond publint:
 * ESM only, explicit `exports` with types, `files`, `sideEffects: false`, public
 * `publishConfig`, a README with a usage example. Returns one message per broken rule.
 */
export function checkManifest(manifest: Manifest, readme: string | null): string[] {
  const problems: string[] = [];
  const name = typeof manifest.name === 'string' ? manifest.name : '';
  if (!/^@mmsim\/[a-z][a-z0-9-]*$/.test(name)) problems.push('name must be @mmsim/<kebab-case>');
  if (typeof manifest.version !== 'string') problems.push('version is missing');
  if (typeof manifest.description !== 'string' || manifest.description.length < 20) {
    problems.push('description must say what the package is (20 characters or more)');
  }
  if (manifest.type !== 'module') problems.push('type must be "module" (ESM only)');
  if (manifest.sideEffects !== false) problems.push('sideEffects must be false');
  if (typeof manifest.license !== 'string') problems.push('license is missing');

  const exportsField = manifest.exports;
  const root = isRecord(exportsField) ? exportsField['.'] : undefined;
  if (!isRecord(root)) {
    problems.push('exports must map "." to conditions');
  } else {
    const keys = Object.keys(root);
    if (typeof root.types !== 'string') problems.push('exports["."] must have a "types" condition');
    if (typeof root.default !== 'string' && typeof root.import !== 'string') {
      problems.push('exports["."] must have an "import" or "default" condition');
    }
    if ('require' in root)
      problems.push('exports["."] must not have "require": packages are ESM only');
    if (keys.indexOf('types') > Math.max(keys.indexOf('default'), keys.indexOf('import'))) {
      problems.push('exports["."]: "types" must come before "import"/"default"');
    }
  }

  const files = manifest.files;
  if (!Array.isArray(files) || !files.includes('dist')) problems.push('files must list "dist"');

  const publish = manifest.publishConfig;
  if (!isRecord(publish) || publish.access !== 'public') {
    problems.push('publishConfig.access must be "public"');
  }
  if (manifest.private === true) problems.push('a published package must not be private');

  const deps = isRecord(manifest.dependencies) ? manifest.dependencies : {};
  for (const [dep, range] of Object.entries(deps)) {
    if (dep.startsWith('@mmsim/') && range !== 'workspace:^') {
      problems.push(`dependency ${dep} must use "workspace:^" so releases pin a compatible range`);
    }
  }

  if (readme === null) {
    problems.push('README.md is missing');
  } else if (!/```(ts|typescript|js|sh)\n[\s\S]*?```/.test(readme)) {
    problems.push('README.md must show a usage example in a fenced code block');
  }
  return problems;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
