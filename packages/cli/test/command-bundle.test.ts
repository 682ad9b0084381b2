import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { runBuilt } from './support/built-mmsim.js';

// The built bin loads the command from dist/command.bundle.js (scripts/bundle-command.mjs):
// what its modules resolve from their own location must still resolve from the bundle.
const BUNDLE = fileURLToPath(new URL('../dist/command.bundle.js', import.meta.url));
const pkg = JSON.parse(
  readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8'),
) as { version: string };

describe('the built command, loaded from its bundle', () => {
  test('the build made the bundle', () => {
    expect(existsSync(BUNDLE)).toBe(true);
  });

  test("--version reads this package's version", async () => {
    const { code, stdout } = await runBuilt(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(pkg.version);
  });

  test('--report inlines the libraries @mmsim/report reads from its own dependencies', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mmsim-bundle-')), 'run.html');
    const { code, stderr } = await runBuilt(['run', 'rfc-lock-order', '--report', file]);
    expect(stderr).not.toMatch(/Cannot find|ERR_/);
    expect(code).not.toBe(2);
    const page = readFileSync(file, 'utf8');
    // elkjs's browser build and Chart.js's, read by require.resolve from @mmsim/report.
    expect(page).toContain('ELK');
    expect(page).toContain('Chart');
  }, 120_000);

  test("from the bundle, explore finds the worker threads' module next to it", async () => {
    // (Else `--workers N` would quietly run on the command's thread alone.)
    const bundle = (await import(BUNDLE)) as typeof import('../src/command.js');
    expect(bundle.workerModule()).toMatch(/[\\/]dist[\\/]explore-worker\.bundle\.js$/);
  });
});
