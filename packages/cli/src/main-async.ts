import { EXIT_USAGE } from './exit-codes.js';
import type { CliIo } from './io.js';
import { main } from './main.js';
import { UsageError } from './usage-error.js';

/**
 * `main` for callers that can wait: commands that run on worker threads (`explore
 * --workers`, `campaign`) finish here. Returns the exit code.
 */
export async function mainAsync(argv: readonly string[], io: CliIo): Promise<number> {
  let later: Promise<number> | undefined;
  const code = main(argv, io, {
    defer: (p) => {
      later = p;
    },
  });
  if (later === undefined) return code;
  try {
    return await later;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`mmsim: ${error.message}\n`);
      return EXIT_USAGE;
    }
    throw error;
  }
}
