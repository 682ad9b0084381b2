import cliProgress from 'cli-progress';
import type { CliIo } from './io.js';

/** Reports progress of a long run: a bar on a terminal, plain lines otherwise. */
export interface Progress {
  update(done: number): void;
  stop(): void;
}

/**
 * A progress bar (cli-progress) when stdout is a terminal and CI is not set; otherwise a
 * plain line at every tenth of the total, written to stderr so `--json` output on stdout
 * stays clean.
 */
export function createProgress(io: CliIo, label: string, total: number): Progress {
  if (io.isTTY && io.env.CI === undefined) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {value}/{total} schedules`, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
    return { update: (done) => bar.update(done), stop: () => bar.stop() };
  }
  const step = Math.max(1, Math.ceil(total / 10));
  let next = step;
  return {
    update(done) {
      if (done >= next || done === total) {
        io.stderr(`${label}: ${done}/${total} schedules\n`);
        next = done + step;
      }
    },
    stop() {},
  };
}
