import { type FaultSpec, MmsimError } from '@mmsim/runtime';
import type { ExplorationTarget } from './target.js';

/** An `INVALID_CONFIG` error naming the option, its expected form and the value given. */
export function invalid(option: string, what: string, value: unknown): MmsimError {
  let shown: string;
  try {
    shown = typeof value === 'function' ? 'a function' : (JSON.stringify(value) ?? String(value));
  } catch {
    shown = String(value);
  }
  return new MmsimError('INVALID_CONFIG', `${option} must be ${what}, got ${shown}`);
}

export function checkObject(option: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(option, 'an object', value);
  }
  return value as Record<string, unknown>;
}

/** Unknown keys are typos: reject them rather than ignore them. */
export function checkKeys(option: string, value: object, allowed: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `${option}.${key} is not an option; known: ${allowed.join(', ')}`,
      );
    }
  }
}

export function checkInteger(option: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(option, `an integer in [${min}, ${max}]`, value);
  }
  return value;
}

export function checkTarget(target: unknown): ExplorationTarget {
  const t = target as Partial<ExplorationTarget> | null;
  if (
    typeof t !== 'object' ||
    t === null ||
    typeof t.name !== 'string' ||
    t.name === '' ||
    typeof t.instantiate !== 'function' ||
    (t.identity !== undefined &&
      (typeof t.identity !== 'object' || t.identity === null || Array.isArray(t.identity)))
  ) {
    throw invalid('target', '{ name: non-empty string, instantiate(options) }', target);
  }
  return t as ExplorationTarget;
}

/** The shape of fault specs; the runtime checks each spec and site name when it applies them. */
export function checkFaults(option: string, value: unknown): Readonly<Record<string, FaultSpec>> {
  const faults = checkObject(option, value);
  for (const [name, spec] of Object.entries(faults)) {
    if (typeof spec !== 'object' || spec === null) {
      throw invalid(`${option}.${name}`, '{ probability } or { calls }', spec);
    }
  }
  return faults as Record<string, FaultSpec>;
}
