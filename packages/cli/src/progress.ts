import cliProgress from 'cli-progress';
import type { CliIo } from './io.js';

/** Reports progress of a long run: a bar on a terminal, plain lines otherwise. */
export interface Progress {
  /** `done`: schedules finished so far (not the total). */
  update(done: number): void;
  stop(): void;
}

/** Off a terminal (or with CI set), at most one progress line per this many milliseconds. */
export const PLAIN_PROGRESS_INTERVAL_MS = 5000;

/**
 * A progress bar (cli-progress) of the schedules done when stdout is a terminal and CI is
 * not set; otherwise a plain line on stderr (so `--json` output on stdout stays clean) at
 * most every `PLAIN_PROGRESS_INTERVAL_MS` of wall-clock time, and none for a search that
 * ends sooner. `now` is the clock (tests pass their own).
 */
export function createProgress(
  io: CliIo,
  label: string,
  total: number,
  now: () => number = () => performance.now(),
): Progress {
  if (io.isTTY && io.env.CI === undefined) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {value}/{total} schedules`, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
    return { update: (done) => bar.update(done), stop: () => bar.stop() };
  }
  let next = now() + PLAIN_PROGRESS_INTERVAL_MS;
  return {
    update(done) {
      const t = now();
      if (t >= next) {
        io.stderr(`${label}: ${done}/${total} schedules\n`);
        next = t + PLAIN_PROGRESS_INTERVAL_MS;
      }
    },
    stop() {},
  };
}
