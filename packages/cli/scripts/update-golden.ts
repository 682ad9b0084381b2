/**
 * Records test/golden/model-outputs.json again from the current model: every run and
 * exploration it lists, with the commands model-outputs.test.ts checks. For a deliberate
 * model change only (say why in a changeset); run it as `pnpm --filter @mmsim/cli
 * golden:update`. Fields already recorded that a command no longer prints are kept.
 */
import {
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
if (failed > 0) {
  process.stderr.write(`${failed} command(s) wrote to stderr: golden file left as it was\n`);
  process.exitCode = 1;
} else {
  writeGolden(golden);
  process.stderr.write('test/golden/model-outputs.json rewritten\n');
}
