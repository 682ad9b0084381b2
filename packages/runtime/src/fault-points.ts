import { MmsimError } from './errors.js';
import type { RandomStream } from './random.js';

/**
 * How one fault site fails: with a probability at each call, or at the listed call
 * numbers (1-based: `{ calls: [1, 3] }` fails the first and third call).
 */
export type FaultSpec = { readonly probability: number } | { readonly calls: readonly number[] };

/** What a fault site tells when it is consulted (the runtime: `touchAll`). */
export interface FaultStepMarker {
  touchAll(): void;
}

/** A named injection site. `fire()` says whether this call fails; it is cheap when off. */
export class FaultPoint {
  readonly name: string;
  readonly description: string;
  /** Calls made so far. */
  calls = 0;
  /** Calls that were told to fail. */
  injected = 0;
  /** @internal */
  spec: FaultSpec | null = null;
  /** @internal */
  callSet: ReadonlySet<number> | null = null;
  readonly #rng: RandomStream;
  readonly #steps: FaultStepMarker | null;

  constructor(
    name: string,
    description: string,
    rng: RandomStream,
    steps: FaultStepMarker | null = null,
  ) {
    this.name = name;
    this.description = description;
    this.#rng = rng;
    this.#steps = steps;
  }

  fire(): boolean {
    const spec = this.spec;
    if (spec === null) return false;
    // The call count and the faults stream are shared by every task: a step that consults
    // a configured site is dependent with every step (partial-order reduction).
    if (this.#steps !== null) this.#steps.touchAll();
    this.calls++;
    const hit =
      this.callSet !== null
        ? this.callSet.has(this.calls)
        : this.#rng.chance((spec as { probability: number }).probability);
    if (hit) this.injected++;
    return hit;
  }
}

/**
 * The fault sites of one runtime. Packages register their sites (for example an
 * allocation that fails, a trylock that loses, an extra reference); a run configures
 * some of them. Decisions come from the faults random stream, so a seed replays them.
 * All sites are off unless configured.
 */
export class FaultPoints {
  readonly #rng: RandomStream;
  /**
   * The registered sites, in the order registered. A list, not a Map: a machine registers
   * a handful (the kernel's sites have fixed names), once per schedule in an exploration,
   * where a Map's insertions (and its growth past four entries) cost more than the search.
   */
  readonly #sites: FaultPoint[] = [];
  readonly #steps: FaultStepMarker | null;

  /** `steps` (the runtime) marks a step that consults a configured site global. */
  constructor(rng: RandomStream, steps: FaultStepMarker | null = null) {
    this.#rng = rng;
    this.#steps = steps;
  }

  /**
   * Registers a site (or returns the one of that name). `configure` takes registered sites
   * only, so a new site starts off (there is no spec waiting for it).
   */
  register(name: string, description: string): FaultPoint {
    let site = this.get(name);
    if (site === undefined) {
      site = new FaultPoint(name, description, this.#rng, this.#steps);
      this.#sites.push(site);
    }
    return site;
  }

  /**
   * Sets how sites fail. Every name must be registered already; a bad spec throws
   * `INVALID_CONFIG` and changes nothing.
   */
  configure(specs: Readonly<Record<string, FaultSpec>>): void {
    for (const [name, spec] of Object.entries(specs)) {
      if (this.get(name) === undefined) {
        throw new MmsimError(
          'INVALID_CONFIG',
          `faults.${name} is not a fault site; known sites: ${this.names().join(', ') || 'none'}`,
        );
      }
      validate(name, spec);
    }
    for (const [name, spec] of Object.entries(specs)) apply(this.get(name) as FaultPoint, spec);
  }

  /** Names of the registered sites, sorted. */
  names(): string[] {
    return this.#sites.map((site) => site.name).sort();
  }

  get(name: string): FaultPoint | undefined {
    const sites = this.#sites;
    for (let i = 0; i < sites.length; i++) {
      const site = sites[i] as FaultPoint;
      if (site.name === name) return site;
    }
    return undefined;
  }
}

function validate(name: string, spec: FaultSpec): void {
  if (typeof spec === 'object' && spec !== null && 'probability' in spec) {
    const p = spec.probability;
    if (typeof p === 'number' && p >= 0 && p <= 1) return;
    throw new MmsimError(
      'INVALID_CONFIG',
      `faults.${name}.probability must be in [0, 1], got ${String(p)}`,
    );
  }
  if (typeof spec === 'object' && spec !== null && 'calls' in spec && Array.isArray(spec.calls)) {
    if (spec.calls.every((c) => Number.isInteger(c) && c >= 1)) return;
    throw new MmsimError('INVALID_CONFIG', `faults.${name}.calls must list call numbers >= 1`);
  }
  throw new MmsimError(
    'INVALID_CONFIG',
    `faults.${name} must be {probability} or {calls}, got ${JSON.stringify(spec)}`,
  );
}

function apply(site: FaultPoint, spec: FaultSpec): void {
  site.spec = spec;
  site.callSet = 'calls' in spec ? new Set(spec.calls) : null;
}
