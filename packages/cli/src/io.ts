import { closeSync, openSync, writeSync } from 'node:fs';
import { fileErrorMessage } from './file-error.js';
import { UsageError } from './usage-error.js';

/** Where the command reads and writes; tests pass their own. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** True when stdout is a terminal (progress bars are drawn only then). */
  readonly isTTY: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  /**
   * Opens a file for streaming output. `-` is stdout. A file that cannot be opened is a
   * `UsageError` naming the path and the reason.
   */
  openOutput(path: string): OutputFile;
  /**
   * True once the user asked to stop (Ctrl-C): a long exploration ends with its partial
   * summary and exit code 130. Absent means never.
   */
  interrupted?(): boolean;
  /** The folder relative paths are resolved against (default: the process's cwd). */
  readonly cwd?: string;
}

export interface OutputFile {
  write(chunk: string): void;
  close(): void;
}

/**
 * Opens `path` for writing (`-` is stdout); a failure (no such folder, a directory, no
 * permission, an empty name) is a one-line `UsageError` naming the path and the reason.
 */
export function openOutputFile(path: string, stdout: (text: string) => void): OutputFile {
  if (path === '-') return { write: (chunk) => stdout(chunk), close: () => {} };
  let fd: number;
  try {
    if (path === '') throw Object.assign(new Error('empty path'), { code: 'ENOENT' });
    fd = openSync(path, 'w');
  } catch (error) {
    throw new UsageError(fileErrorMessage('cannot write', path, error));
  }
  return {
    write: (chunk) => {
      writeSync(fd, chunk);
    },
    close: () => closeSync(fd),
  };
}

/** The process's own streams and files. */
export function processIo(): CliIo {
  const stdout = (text: string) => {
    process.stdout.write(text);
  };
  return {
    stdout,
    stderr: (text) => process.stderr.write(text),
    isTTY: process.stdout.isTTY === true,
    env: process.env,
    openOutput: (path) => openOutputFile(path, stdout),
  };
}
