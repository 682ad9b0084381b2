import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkManifest } from './rules.js';

/** Checks the package in the current directory (or the one given); exits 1 on a problem. */
const dir = process.argv[2] ?? process.cwd();
const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<
  string,
  unknown
>;
const readmePath = join(dir, 'README.md');
const problems = checkManifest(
  manifest,
  existsSync(readmePath) ? readFileSync(readmePath, 'utf8') : null,
);
const name = String(manifest.name ?? dir);
if (problems.length > 0) {
  process.stderr.write(
    `${name}: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join('\n')}\n`,
  );
  process.exit(1);
}
process.stdout.write(`${name}: package conventions OK\n`);
