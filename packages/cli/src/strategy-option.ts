import type { ExploreStrategy } from '@mmsim/explore';
import type { StrategySpec } from '@mmsim/runtime';
import { UsageError } from './usage-error.js';

/**
 * `--strategy` for `run`: in-order, lowest-clock, random, or pct[:DEPTH].
 */
export function runStrategy(text: string | undefined): StrategySpec | undefined {
  if (text === undefined) return undefined;
  if (text === 'in-order' || text === 'lowest-clock' || text === 'random') return text;
  const pct = /^pct(?::(\d+))?$/.exec(text);
  if (pct !== null) return pct[1] === undefined ? 'pct' : { kind: 'pct', depth: Number(pct[1]) };
  throw new UsageError(
    `--strategy must be in-order, lowest-clock, random or pct[:DEPTH]; got "${text}"`,
  );
}

/**
 * `--strategy` for `explore`: random, pct[:DEPTH], dfs[:PREEMPTION_BOUND] or
 * dpor[:PREEMPTION_BOUND].
 */
export function exploreStrategy(text: string | undefined): ExploreStrategy | undefined {
  if (text === undefined) return undefined;
  if (text === 'random') return 'random';
  const m = /^(pct|dfs|dpor)(?::(\d+))?$/.exec(text);
  if (m === null) {
    throw new UsageError(
      `--strategy must be random, pct[:DEPTH], dfs[:PREEMPTION_BOUND] or dpor[:PREEMPTION_BOUND]; got "${text}"`,
    );
  }
  if (m[1] === 'dpor') {
    return m[2] === undefined ? 'dpor' : { kind: 'dpor', preemptionBound: Number(m[2]) };
  }
  if (m[1] === 'pct') return m[2] === undefined ? 'pct' : { kind: 'pct', depth: Number(m[2]) };
  return m[2] === undefined ? 'dfs' : { kind: 'dfs', preemptionBound: Number(m[2]) };
}

/** A non-negative integer option. */
export function intOption(name: string, text: string | undefined, min = 0): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}; got "${text}"`);
  }
  return value;
}

/**
 * The one text form of a schedule strategy, as `--strategy` takes it and `--json` prints
 * it: `random`, `pct`, `pct:5`, `dfs`, `dfs:2`, `dpor`, `dpor:2`.
 */
export function strategyText(strategy: ExploreStrategy): string {
  if (typeof strategy === 'string') return strategy;
  if (strategy.kind === 'pct')
    return strategy.depth === undefined ? 'pct' : `pct:${strategy.depth}`;
  return strategy.preemptionBound === undefined
    ? strategy.kind
    : `${strategy.kind}:${strategy.preemptionBound}`;
}
