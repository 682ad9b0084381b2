import type { FaultSpec } from '@mmsim/runtime';

/**
 * What the explorer writes into a replay token's meta besides the decisions: the target,
 * the step limit and the fault specs. They are data that change the run, so a token
 * replays on its own; invariants are code and must be passed again.
 */
export interface RunMeta {
  readonly target: string;
  readonly maxSteps: number;
  readonly faults: Readonly<Record<string, FaultSpec>>;
}

const TAG = 'mmsim-explore';

export function encodeRunMeta(meta: RunMeta): string {
  const faults = Object.keys(meta.faults).length > 0 ? meta.faults : undefined;
  return JSON.stringify({ [TAG]: 1, target: meta.target, maxSteps: meta.maxSteps, faults });
}

/** The explorer's meta, or null for a token made elsewhere (a plain runtime run). */
export function decodeRunMeta(text: string): RunMeta | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (v[TAG] !== 1 || typeof v.target !== 'string' || typeof v.maxSteps !== 'number') return null;
  const faults =
    typeof v.faults === 'object' && v.faults !== null
      ? (v.faults as Record<string, FaultSpec>)
      : {};
  return { target: v.target, maxSteps: v.maxSteps, faults };
}
