import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

/** How long `mmsimInterrupted` waits at most for its readiness pattern. */
export const READY_CAP_MS = 90_000;

/**
 * Runs the real `mmsim` process (bin.ts from source) with ARGS, sends it SIGINT once it is
 * ready, and resolves with its exit code and output: what a user pressing Ctrl-C sees.
 * `ready` is a pattern its stderr must show first (e.g. explore's progress line, printed
 * only once the worker has loaded and the search has done schedules), so that a loaded
 * machine cannot make the signal come too early; a number is a fixed delay in ms instead.
 * The signal goes anyway after `READY_CAP_MS`, or not at all if the process has ended.
 */
export async function mmsimInterrupted(
  args: readonly string[],
  ready: RegExp | number = 5000,
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
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  let ended = false;
  void exited.then(() => {
    ended = true;
  });
  if (typeof ready === 'number') {
    await new Promise((resolve) => setTimeout(resolve, ready));
    // And not before the process handles SIGINT (a loaded machine may take longer to load
    // bin.ts than the delay): until then the signal would kill it.
    const start = Date.now();
    while (!ended && !catchesSigint(child.pid) && Date.now() - start < READY_CAP_MS) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } else {
    const start = Date.now();
    while (!ended && !ready.test(stderr) && Date.now() - start < READY_CAP_MS) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  if (!ended) child.kill('SIGINT');
  const code = await exited;
  return { code, stdout, stderr };
}

/**
 * Whether process `pid` has a SIGINT handler: bit 2 of `SigCgt` in /proc/PID/status (Linux).
 * True where that cannot be read (another system: the delay alone then decides).
 */
function catchesSigint(pid: number | undefined): boolean {
  if (pid === undefined) return true;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const caught = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    return caught === undefined || (BigInt(`0x${caught}`) & 2n) !== 0n;
  } catch {
    return true;
  }
}
