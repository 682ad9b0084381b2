import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// The built command (worker threads load the built worker module): run `pnpm build` first.
const BIN = fileURLToPath(new URL('../../dist/bin.js', import.meta.url));

/** Runs the built `mmsim` as its own process (as a user's shell would, with worker threads). */
export function runBuilt(
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, CI: 'true' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** An explore --json result without its wall-clock figures. */
export function timeless(stdout: string): Record<string, unknown> {
  const {
    elapsedMs: _e,
    schedulesPerSecond: _s,
    ...rest
  } = JSON.parse(stdout) as Record<string, unknown>;
  return rest;
}
