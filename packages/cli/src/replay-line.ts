import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { VariantName } from '@mmsim/kernel';
import type { CliIo } from './io.js';
import { UsageError } from './usage-error.js';
import { isVariantFile } from './variant-file.js';

/**
 * Tokens longer than this are not printed whole to a terminal: a v6.2 pmbench token is
 * 32 KB. They go to a file, and the printed command reads it with `--token-file`.
 */
export const MAX_PRINTED_TOKEN = 400;

/** SHA-256 of some text or bytes, in hex. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `text` as one shell word: unchanged when it is plain, else in single quotes. */
export function shellWord(text: string): string {
  return /^[\w./:@%+=,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** How the `replay:` line of a command is made. */
export interface ReplayLineOptions {
  /** The scenario file the run came from: the command gets `--scenario FILE`. */
  readonly scenarioFile?: string | undefined;
  /**
   * The `--variant` argument of the run as given: a variant file or module puts
   * `--variant FILE` in the command; a built-in name is in the token already.
   */
  readonly variant?: string | undefined;
  /** `--token-file`: write the token there, and print a command that reads it. */
  readonly tokenFile?: string | undefined;
  /** Put a long token in a file when stdout is a terminal (default true; false for --json). */
  readonly shorten?: boolean;
  /** The `--costs` profile of the run: the command gets `--costs NAME` (costs move virtual time). */
  readonly costs?: string | undefined;
}

/**
 * The command that replays `token`, runnable as printed (paths absolute and quoted for the
 * shell). The token is written to a file when `--token-file` asks, or when it is longer than
 * `MAX_PRINTED_TOKEN` and stdout is a terminal (then to the temporary folder, named by its
 * hash); the command then reads it from there. Off a terminal the token is printed whole, so
 * a script gets it.
 */
export function replayCommandLine(io: CliIo, token: string, options: ReplayLineOptions): string {
  const scenario =
    options.scenarioFile === undefined
      ? ''
      : ` --scenario ${shellWord(resolve(options.scenarioFile))}`;
  const variant =
    options.variant === undefined || !isVariantFile(options.variant)
      ? ''
      : ` --variant ${shellWord(resolve(options.variant))}`;
  const costs = options.costs === undefined ? '' : ` --costs ${shellWord(options.costs)}`;
  let file = options.tokenFile;
  if (
    file === undefined &&
    options.shorten !== false &&
    io.isTTY &&
    token.length > MAX_PRINTED_TOKEN
  ) {
    file = join(tmpdir(), `mmsim-replay-${sha256(token).slice(0, 16)}.token`);
  }
  if (file === undefined) return `mmsim replay ${token}${scenario}${variant}${costs}`;
  writeTokenFile(io, file, token);
  return `mmsim replay --token-file ${shellWord(resolve(file))}${scenario}${variant}${costs}`;
}

function writeTokenFile(io: CliIo, path: string, token: string): void {
  let out: ReturnType<CliIo['openOutput']>;
  try {
    out = io.openOutput(path);
  } catch (error) {
    throw new UsageError(`--token-file ${path}: ${reason(error)}`);
  }
  out.write(`${token}\n`);
  out.close();
}

function reason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code === undefined ? String(e.message ?? e) : `${e.code} (${e.message})`;
}

/** Reads a token written by `--token-file`; a missing or empty file is a UsageError. */
export function readTokenFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--token-file ${path}: ${reason(error)}`);
  }
  const token = text.trim();
  if (token === '') throw new UsageError(`--token-file ${path}: the file is empty`);
  return token;
}

/**
 * The meta `mmsim run` writes into its tokens: `mmsim-run:` then JSON with the format
 * version, the scenario, the variant's identity and the scenario file's hash. Format 1 was
 * `mmsim-run:<scenario>@<variant>`; it is still read (a run has no checks to turn off, so
 * it replays exactly), with no file hash to compare.
 */
export interface RunTokenMeta {
  readonly scenario: string;
  readonly variant: { readonly name: VariantName; readonly contentHash: string | null };
  /** The scenario file's hash; null for a built-in scenario, undefined in format 1. */
  readonly file: { readonly sha256: string } | null | undefined;
}

export const RUN_TOKEN_VERSION = 2;

export function encodeRunTokenMeta(prefix: string, meta: RunTokenMeta): string {
  return `${prefix}${JSON.stringify({ v: RUN_TOKEN_VERSION, ...meta })}`;
}

export function decodeRunTokenMeta(prefix: string, text: string): RunTokenMeta {
  const body = text.slice(prefix.length);
  if (!body.startsWith('{')) {
    const at = body.lastIndexOf('@');
    const scenario = at < 0 ? body : body.slice(0, at);
    const name = (at < 0 ? '' : body.slice(at + 1)) as VariantName;
    return { scenario, variant: { name, contentHash: null }, file: undefined };
  }
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw new UsageError("the run token's meta is not valid JSON");
  }
  if (value.v !== RUN_TOKEN_VERSION) {
    throw new UsageError(
      `the token is in run token format ${JSON.stringify(value.v)}; this mmsim reads format ${RUN_TOKEN_VERSION}`,
    );
  }
  return value as unknown as RunTokenMeta;
}
