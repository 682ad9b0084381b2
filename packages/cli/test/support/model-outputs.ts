import { readFileSync, writeFileSync } from 'node:fs';
import { mmsim } from './mmsim.js';

/**
 * The model's outputs pinned in test/golden/: model-outputs.json (`mmsim run --json` of the
 * benchmark and the historic scenarios, and what `mmsim explore` finds in each historic
 * scenario, the replay token included) and the ftrace text of one small seeded run.
 * model-outputs.test.ts and trace-files.test.ts compare against them; `pnpm --filter
 * @mmsim/cli golden:update` (scripts/update-golden.ts) records them again after a
 * deliberate model change. Both run the same commands, listed here.
 */
export interface Golden {
  runs: Record<string, unknown>;
  explores: Record<string, { scenario: string; variant: string; [k: string]: unknown }>;
}

export const GOLDEN_FILE = new URL('../golden/model-outputs.json', import.meta.url);

export function readGolden(): Golden {
  return JSON.parse(readFileSync(GOLDEN_FILE, 'utf8')) as Golden;
}

export function writeGolden(golden: Golden): void {
  writeFileSync(GOLDEN_FILE, `${JSON.stringify(golden, null, 1)}\n`);
}

/** The command of a recorded run. */
export function goldenRunArgs(name: string): string[] {
  return ['run', name, '--json'];
}

/** The command of a recorded exploration: 300 schedules; the `deadlock ` ones without the page-lock check. */
export function goldenExploreArgs(key: string, want: Golden['explores'][string]): string[] {
  const args = ['explore', want.scenario, '--variant', want.variant, '--json'];
  args.push('--schedules', '300');
  if (key.startsWith('deadlock ')) args.push('--disable', 'page-lock-inversion');
  return args;
}

/** `mmsim ARGS` in-process: its stderr and (with `--json`) its output without the wall-clock fields. */
export function goldenOutput(args: string[]): { stderr: string; out: Record<string, unknown> } {
  const r = mmsim(args);
  const out = (args.includes('--json') ? JSON.parse(r.stdout) : {}) as Record<string, unknown>;
  delete out.schedulesPerSecond; // wall-clock
  delete out.elapsedMs;
  return { stderr: r.stderr, out };
}

/** The ftrace golden: `run rfc-lock-order` (v6.3, random, seed 3) written with `--ftrace`. */
export const FTRACE_GOLDEN_FILE = new URL(
  '../golden/rfc-lock-order-v6.3-seed3.ftrace',
  import.meta.url,
);

/** The command that writes the ftrace golden's text to `file`. */
export function ftraceGoldenArgs(file: string): string[] {
  return [
    'run',
    'rfc-lock-order',
    '--variant',
    'v6.3',
    '--strategy',
    'random',
    '--seed',
    '3',
    '--ftrace',
    file,
  ];
}
