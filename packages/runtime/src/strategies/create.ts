import { MmsimError } from '../errors.js';
import { InOrderStrategy } from './in-order.js';
import { LowestClockStrategy } from './lowest-clock.js';
import { PctStrategy } from './pct.js';
import { RandomStrategy } from './random.js';
import type { Strategy } from './strategy.js';

export type StrategyName = 'in-order' | 'lowest-clock' | 'random' | 'pct';

/** How a run chooses its schedule: a name, PCT with options, a replay token, or your own. */
export type StrategySpec =
  | StrategyName
  | { readonly kind: 'pct'; readonly depth?: number; readonly steps?: number }
  | { readonly kind: 'replay'; readonly token: string }
  | Strategy;

export const STRATEGY_NAMES: readonly StrategyName[] = [
  'in-order',
  'lowest-clock',
  'random',
  'pct',
];

/** Builds a strategy from its spec (replay specs are handled by the runtime). */
export function createStrategy(spec: Exclude<StrategySpec, { kind: 'replay' }>): Strategy {
  if (typeof spec === 'string') {
    switch (spec) {
      case 'in-order':
        return new InOrderStrategy();
      case 'lowest-clock':
        return new LowestClockStrategy();
      case 'random':
        return new RandomStrategy();
      case 'pct':
        return new PctStrategy();
    }
  }
  if (typeof spec === 'object' && spec !== null) {
    if ('kind' in spec && spec.kind === 'pct') return new PctStrategy(spec);
    if ('choose' in spec && typeof spec.choose === 'function') return spec;
  }
  throw new MmsimError(
    'INVALID_CONFIG',
    `strategy must be one of ${STRATEGY_NAMES.join(', ')}, {kind: 'pct'}, {kind: 'replay', token} ` +
      `or an object with choose(); got ${JSON.stringify(spec)}`,
  );
}
