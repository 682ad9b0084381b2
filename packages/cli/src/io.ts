import { closeSync, openSync, writeSync } from 'node:fs';

/** Where the command reads and writes; tests pass their own. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** True when stdout is a terminal (progress bars are drawn only then). */
  readonly isTTY: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Opens a file for streaming output. */
  openOutput(path: string): OutputFile;
}

export interface OutputFile {
  write(chunk: string): void;
  close(): void;
}

/** The process's own streams and files. */
export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    isTTY: process.stdout.isTTY === true,
    env: process.env,
    openOutput(path) {
      const fd = openSync(path, 'w');
      return {
        write: (chunk) => {
          writeSync(fd, chunk);
        },
        close: () => closeSync(fd),
      };
    },
  };
}
