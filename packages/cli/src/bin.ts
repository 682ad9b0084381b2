#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { EXIT_INTERRUPTED } from './exit-codes.js';

// The command's modules (every package) are imported where a command runs: for explore and
// check that is the worker thread below; the main thread, which then only relays output and
// Ctrl-C, does not load them too (a few hundred modules, before the worker could start).
// Built, they come from one file when the build made it (dist/command.bundle.js, see
// scripts/bundle-command.mjs): compiling one module costs a fraction of resolving, reading and
// compiling each. From source (tsx), or a dist built by `tsc -b` alone, from command.ts.
type CommandModules = typeof import('./command.js');
const commandModules = async (): Promise<CommandModules> => {
  if (!import.meta.url.endsWith('.ts')) {
    const bundle = new URL('./command.bundle.js', import.meta.url);
    if (existsSync(bundle)) return (await import(bundle.href)) as CommandModules;
  }
  return import('./command.js');
};

interface ExploreWorkerData {
  readonly argv: string[];
  readonly flag: Int32Array;
  readonly isTTY: boolean;
  /** The main thread's stderr is a terminal of this many columns (null: not a terminal). */
  readonly stderrColumns: number | null;
}

const argv = process.argv.slice(2);

// `pnpm mmsim` runs from the repository root: relative paths given to it are the caller's,
// so work in the folder pnpm was started from.
if (isMainThread && process.env.npm_lifecycle_event === 'mmsim' && process.env.INIT_CWD) {
  process.chdir(process.env.INIT_CWD);
}

if (!isMainThread) {
  // An exploration, run off the main thread so that Ctrl-C can reach it (see below).
  const data = workerData as ExploreWorkerData;
  // A worker's stderr is a pipe to the main thread's: when that is a terminal, say so, so
  // that the progress bar (cli-progress checks the stream) draws there.
  if (data.stderrColumns !== null) {
    Object.assign(process.stderr, { isTTY: true, columns: data.stderrColumns });
  }
  // Both streams go to the main thread through one port, so they keep their order (the
  // summary after the progress bar's last redraw).
  for (const [fd, stream] of [
    [1, process.stdout],
    [2, process.stderr],
  ] as const) {
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      parentPort?.postMessage({
        fd,
        text: typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(),
      });
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof stream.write;
  }
  const { preloadVariantModules, mainAsync, processIo } = await commandModules();
  await preloadVariantModules(data.argv);
  const code = await mainAsync(data.argv, {
    ...processIo(),
    isTTY: data.isTTY,
    interrupted: () => Atomics.load(data.flag, 0) === 1,
  });
  parentPort?.postMessage(code);
} else {
  // Output piped into `head` and closed early is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
  if (argv[0] === 'explore' || argv[0] === 'check') {
    // (`check` runs one such search after another, and prints the matrix so far.)
    // The search is synchronous, and a signal handler runs only when the thread that owns
    // it is idle: the main thread stays idle, turns SIGINT into a flag the search reads
    // after every schedule (it then prints its partial summary, exit 130); a second Ctrl-C
    // ends the process at once.
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const data: ExploreWorkerData = {
      argv,
      flag,
      isTTY: process.stdout.isTTY === true,
      stderrColumns: process.stderr.isTTY === true ? (process.stderr.columns ?? 80) : null,
    };
    const url = import.meta.url;
    // From source (`pnpm mmsim`), the worker registers tsx itself before loading this file.
    const worker = url.endsWith('.ts')
      ? new Worker(
          `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(url)}); });`,
          { eval: true, workerData: data },
        )
      : new Worker(new URL(url), { workerData: data });
    process.on('SIGINT', () => {
      if (Atomics.load(flag, 0) === 1) process.exit(EXIT_INTERRUPTED);
      Atomics.store(flag, 0, 1);
    });
    worker.on('message', (message: number | { fd: 1 | 2; text: string }) => {
      if (typeof message === 'number') process.exitCode = message;
      else (message.fd === 1 ? process.stdout : process.stderr).write(message.text);
    });
    worker.on('exit', () => {
      process.removeAllListeners('SIGINT');
    });
  } else {
    const { preloadVariantModules, preloadDriverModules, mainAsync, processIo } =
      await commandModules();
    await preloadVariantModules(argv);
    await preloadDriverModules(argv);
    process.exitCode = await mainAsync(argv, processIo());
  }
}
