import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type CliIo, main } from '../../src/index.js';
import { openOutputFile } from '../../src/io.js';

/** How a test runs the command: terminal or not, environment, a Ctrl-C after N polls. */
export interface MmsimTestOptions {
  readonly isTTY?: boolean;
  readonly env?: Record<string, string>;
  /** `io.interrupted()` answers true from its Nth call on (a Ctrl-C during explore). */
  readonly interruptAfter?: number;
}

/**
 * Runs `mmsim ARGS` in-process with captured output, as the tests of every command do:
 * stdout and stderr as strings, files written for real, `-` as a file name captured with
 * stdout.
 */
export function mmsim(args: readonly string[], options: MmsimTestOptions = {}) {
  let stdout = '';
  let stderr = '';
  let polls = 0;
  const io: CliIo = {
    stdout: (s) => {
      stdout += s;
    },
    stderr: (s) => {
      stderr += s;
    },
    isTTY: options.isTTY ?? false,
    env: options.env ?? {},
    openOutput: (path) =>
      openOutputFile(path, (s) => {
        stdout += s;
      }),
    ...(options.interruptAfter === undefined
      ? {}
      : { interrupted: () => ++polls >= (options.interruptAfter as number) }),
  };
  const code = main([...args], io);
  return { code, stdout, stderr };
}

/**
 * Runs the real `mmsim` process (bin.ts from source) with ARGS, sends it SIGINT after
 * `afterMs` (time for the worker to load and the search to get under way), and resolves
 * with its exit code and output: what a user pressing Ctrl-C sees.
 */
export async function mmsimInterrupted(
  args: readonly string[],
  afterMs = 5000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const root = fileURLToPath(new URL('../../../..', import.meta.url));
  const bin = fileURLToPath(new URL('../../src/bin.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', bin, ...args], {
    cwd: root,
    env: { ...process.env, CI: 'true' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await new Promise((resolve) => setTimeout(resolve, afterMs));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
}
