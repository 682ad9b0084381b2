/**
 * Records the golden files of test/golden/ again from the current model: every run and
 * exploration model-outputs.json lists, and the ftrace text of
 * rfc-lock-order-v6.3-seed3.ftrace, with the commands model-outputs.test.ts and
 * trace-files.test.ts check. For a deliberate model change only (say why in a changeset);
 * run it as `pnpm --filter @mmsim/cli golden:update`. Fields already recorded that a
 * command no longer prints are kept. Nothing is written if a command fails.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FTRACE_GOLDEN_FILE,
  ftraceGoldenArgs,
  GOLDEN_FILE,
  goldenExploreArgs,
  goldenOutput,
  goldenRunArgs,
  readGolden,
  writeGolden,
} from '../test/support/model-outputs.js';

const golden = readGolden();
let failed = 0;
function outputOf(args: string[]): Record<string, unknown> | null {
  const { stderr, out } = goldenOutput(args);
  if (stderr === '') return out;
  process.stderr.write(`mmsim ${args.join(' ')}: ${stderr}`);
  failed++;
  return null;
}
for (const name of Object.keys(golden.runs)) {
  process.stderr.write(`run ${name}\n`);
  const out = outputOf(goldenRunArgs(name));
  if (out !== null) golden.runs[name] = out;
}
for (const [key, want] of Object.entries(golden.explores)) {
  process.stderr.write(`explore ${key}\n`);
  const out = outputOf(goldenExploreArgs(key, want));
  if (out !== null) golden.explores[key] = { ...want, ...out } as typeof want;
}
process.stderr.write('ftrace rfc-lock-order\n');
const dir = mkdtempSync(join(tmpdir(), 'mmsim-golden-'));
const ftrace = join(dir, 'run.ftrace');
const traced = goldenOutput(ftraceGoldenArgs(ftrace));
if (traced.stderr !== '') {
  process.stderr.write(`mmsim ${ftraceGoldenArgs(ftrace).join(' ')}: ${traced.stderr}`);
  failed++;
}
if (failed > 0) {
  process.stderr.write(`${failed} command(s) wrote to stderr: golden files left as they were\n`);
  process.exitCode = 1;
} else {
  writeGolden(golden);
  // In the repository's JSON format (what `pnpm format` would make of it).
  const biome = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');
  execFileSync(process.execPath, [biome, 'format', '--write', fileURLToPath(GOLDEN_FILE)], {
    stdio: 'ignore',
  });
  copyFileSync(ftrace, fileURLToPath(FTRACE_GOLDEN_FILE));
  process.stderr.write('test/golden/model-outputs.json and the ftrace golden rewritten\n');
}
rmSync(dir, { recursive: true, force: true });
