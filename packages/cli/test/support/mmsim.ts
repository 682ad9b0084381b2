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
