import { type FaultSpec, type Invariant, MmsimError } from '@mmsim/runtime';
import type { CheckOptions } from './checks.js';
import type { TargetIdentity } from './target.js';

/**
 * What the explorer writes into a replay token's meta besides the decisions: everything
 * that decides the finding. The target's name and identity (what it was built from: for a
 * scenario its variant and scenario file), the step limit, the fault specs, the checks that
 * were turned off and the names of the extra invariants. Invariants are code, so a token
 * carries only their names: a replay must be given invariants of the same names.
 *
 * The meta is JSON tagged `"mmsim-explore": <version>`. Version 2 is this one. Version 1
 * (before disabled checks and the identity were recorded) is refused with
 * `INVALID_REPLAY_TOKEN`: such a token replays with every check on, so a deadlock found with
 * `disable: ['page-lock-inversion']` came back as an inversion; explore again for a new token.
 */
export interface RunMeta {
  readonly target: string;
  /** The target's identity when the token was made (`{}` for a target without one). */
  readonly identity: TargetIdentity;
  readonly maxSteps: number;
  readonly faults: Readonly<Record<string, FaultSpec>>;
  /** Names of the checks and invariants that were turned off. */
  readonly disable: readonly string[];
  /** Names of the extra invariants (`CheckOptions.invariants`) the run was checked with. */
  readonly invariants: readonly string[];
}

const TAG = 'mmsim-explore';

/** The version of the meta that `encodeRunMeta` writes. */
export const RUN_META_VERSION = 2;

export function encodeRunMeta(meta: RunMeta): string {
  const faults = Object.keys(meta.faults).length > 0 ? meta.faults : undefined;
  const identity = Object.keys(meta.identity).length > 0 ? meta.identity : undefined;
  const disable = meta.disable.length > 0 ? meta.disable : undefined;
  const invariants = meta.invariants.length > 0 ? meta.invariants : undefined;
  return JSON.stringify({
    [TAG]: RUN_META_VERSION,
    target: meta.target,
    identity,
    maxSteps: meta.maxSteps,
    faults,
    disable,
    invariants,
  });
}

function stringList(value: unknown): readonly string[] | null {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return null;
  return value as string[];
}

/**
 * The explorer's meta, or null for a token made elsewhere (a plain runtime run). A token of
 * the explorer in another version of the format, or with a malformed meta, throws
 * `INVALID_REPLAY_TOKEN` saying so.
 */
export function decodeRunMeta(text: string): RunMeta | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || !(TAG in value)) return null;
  const v = value as Record<string, unknown>;
  const version = v[TAG];
  if (version !== RUN_META_VERSION) {
    throw new MmsimError(
      'INVALID_REPLAY_TOKEN',
      version === 1
        ? 'the token was made by an older mmsim (explore token format 1), which did not record ' +
            'the disabled checks, the extra invariants or the scenario file, so it cannot be ' +
            'replayed exactly; explore again to get a token of format 2'
        : `the token is in explore token format ${JSON.stringify(version)}; this mmsim reads format ${RUN_META_VERSION}`,
    );
  }
  const disable = stringList(v.disable);
  const invariants = stringList(v.invariants);
  const identity = v.identity ?? {};
  if (
    typeof v.target !== 'string' ||
    typeof v.maxSteps !== 'number' ||
    disable === null ||
    invariants === null ||
    typeof identity !== 'object' ||
    identity === null ||
    Array.isArray(identity)
  ) {
    throw new MmsimError('INVALID_REPLAY_TOKEN', "the token's meta is malformed");
  }
  const faults =
    typeof v.faults === 'object' && v.faults !== null
      ? (v.faults as Record<string, FaultSpec>)
      : {};
  return {
    target: v.target,
    identity: identity as TargetIdentity,
    maxSteps: v.maxSteps,
    faults,
    disable,
    invariants,
  };
}

/**
 * The check options of a replay or shrink: those given, else the token's disabled checks.
 * The extra invariants must be given again (they are code) and must have the names the
 * token recorded; otherwise `INVALID_REPLAY_TOKEN` says which are missing or unexpected.
 */
export function checksOfToken(meta: RunMeta, given: CheckOptions): CheckOptions {
  const names = (given.invariants ?? []).map((inv: Invariant) => inv.name);
  const missing = meta.invariants.filter((n) => !names.includes(n));
  const extra = names.filter((n) => !meta.invariants.includes(n));
  if (missing.length > 0 || extra.length > 0) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`pass the invariant(s) ${missing.join(', ')} again`);
    if (extra.length > 0) parts.push(`the token was not recorded with ${extra.join(', ')}`);
    throw new MmsimError(
      'INVALID_REPLAY_TOKEN',
      `the token was recorded with the extra invariant(s) [${meta.invariants.join(', ')}]: ${parts.join('; ')}`,
    );
  }
  return {
    disable: given.disable ?? meta.disable,
    ...(given.invariants === undefined ? {} : { invariants: given.invariants }),
  };
}

/**
 * The differences between the identity a token recorded and the target's now, one line each
 * (`file.sha256: recorded "…", now "…"`); empty when they agree.
 */
export function identityDifferences(recorded: TargetIdentity, now: TargetIdentity): string[] {
  const out: string[] = [];
  const walk = (a: unknown, b: unknown, path: string): void => {
    if (
      typeof a === 'object' &&
      a !== null &&
      typeof b === 'object' &&
      b !== null &&
      !Array.isArray(a) &&
      !Array.isArray(b)
    ) {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const k of keys) {
        walk(
          (a as Record<string, unknown>)[k],
          (b as Record<string, unknown>)[k],
          path === '' ? k : `${path}.${k}`,
        );
      }
      return;
    }
    const sa = JSON.stringify(a ?? null);
    const sb = JSON.stringify(b ?? null);
    if (sa !== sb) out.push(`${path}: recorded ${sa}, now ${sb}`);
  };
  walk(recorded, now, '');
  return out;
}
