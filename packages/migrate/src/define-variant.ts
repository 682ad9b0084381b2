import { MmsimError } from '@mmsim/runtime';
import { VARIANT_STEP_NAMES, type VariantSteps } from './variant-steps.js';
import {
  DEFAULT_VARIANT,
  type MigrateVariant,
  PROTOTYPE_KNOB_DEFAULTS,
  VARIANTS,
  type VariantName,
} from './variants.js';

/**
 * Custom variants as values: `defineVariant` builds one from a base variant and policy
 * settings, every setting checked by name; `variantContentHash` fingerprints the policy so
 * that a replay token can tell two variants of the same name apart.
 */

/**
 * The policy settings of a variant (everything but its name, description, sources and
 * replacement steps).
 */
export type VariantSettings = Omit<MigrateVariant, 'name' | 'description' | 'sources' | 'steps'>;

/** The values of a numeric setting: an integer from `min` to `max`. */
export interface IntegerSettingRange {
  readonly integer: { readonly min: number; readonly max: number };
}

/** What a setting takes: one of some strings, a boolean, or an integer in a range. */
export type VariantSettingValues = readonly string[] | 'boolean' | IntegerSettingRange;

/**
 * Every policy setting and the values it takes (`boolean` for a switch), in a fixed order:
 * the one table that validation, the content hash, the JSON Schema of variant files
 * (`@mmsim/kernel`) and docs/variants.md follow.
 */
export const VARIANT_SETTINGS: Readonly<
  Record<keyof VariantSettings, readonly string[] | 'boolean' | IntegerSettingRange>
> = Object.freeze({
  engine: Object.freeze(['unmap-and-move', 'batch']),
  syncBatching: Object.freeze(['batch-all-modes', 'async-first', 'batch-sync-light']),
  batchLimit: Object.freeze(['over-limit', 'at-limit']),
  forceFromPass3: 'boolean',
  batchLockStrategy: Object.freeze(['sleep', 'deadlock-avoid', 'trylock']),
  syncLightNeedsUptodate: 'boolean',
  batchFlush: Object.freeze(['never', 'always', 'async-only']),
  tlbBatchSkipsInaccessible: 'boolean',
  splitRetry: Object.freeze(['in-batch', 'after-batch']),
  allMigratedReturnsZero: 'boolean',
  restoreWrprotectsReadEntry: 'boolean',
  splitTrylockInAsync: 'boolean',
  migrateMovesShmemThps: 'boolean',
  splitThpCountersPmdOnly: 'boolean',
  longtermPinRetryUncounts: 'boolean',
  norefsLockCoversCopy: 'boolean',
  blockDevLargeFolios: 'boolean',
  hasSyncNoCopy: 'boolean',
  copyBeforeFreeze: 'boolean',
  hugetlbFallbackByReason: 'boolean',
  countsNrSplit: 'boolean',
  drainOnlyMlocked: 'boolean',
  dstStateInPrivate: 'boolean',
  compactionIsolatesLarge: 'boolean',
  allocContigRangeInfo: 'boolean',
  splitsDeferredFirst: 'boolean',
  deferredSplitCountsFailed: 'boolean',
  deferredSplitCountsThpFailed: 'boolean',
  batchSize: Object.freeze({ integer: Object.freeze({ min: 1, max: 1 << 20 }) }),
  passesAsync: Object.freeze({ integer: Object.freeze({ min: 1, max: 1000 }) }),
  passesSyncLight: Object.freeze({ integer: Object.freeze({ min: 1, max: 1000 }) }),
  passesSync: Object.freeze({ integer: Object.freeze({ min: 1, max: 1000 }) }),
  asyncFirstPasses: Object.freeze({ integer: Object.freeze({ min: 1, max: 999 }) }),
  splitPolicy: Object.freeze(['on-failure', 'never']),
  copyStrategy: Object.freeze(['in-move', 'batch-precopy']),
  movableProtocol: Object.freeze(['folio-6.3', 'page-type-2025']),
  numaHintPutsBackList: 'boolean',
  movePagesLookup: Object.freeze(['follow-page', 'folio-walk']),
});

/** The names of the policy settings, in table order. */
export const VARIANT_SETTING_KEYS: readonly (keyof VariantSettings)[] = Object.freeze(
  Object.keys(VARIANT_SETTINGS) as (keyof VariantSettings)[],
);

/** What `defineVariant` takes: a name, the variant it extends, and the settings it changes. */
export type VariantDefinition = {
  /** A free-form name; a built-in name only for a variant identical to that built-in one. */
  readonly name: string;
  /** A built-in variant's name or another variant value; its settings are the defaults. */
  readonly extends: VariantName | MigrateVariant;
  readonly description?: string;
  readonly sources?: readonly string[];
  /** Replacement step functions, on top of (and by name replacing) those of `extends`. */
  readonly steps?: VariantSteps;
  /**
   * The former switch for 6.3-rc1's `avoid_force_lock`, still accepted: `true` is
   * `batchLockStrategy: 'deadlock-avoid'`, `false` is `'sleep'`.
   */
  readonly avoidForceLock?: boolean;
} & Partial<VariantSettings>;

/**
 * `avoidForceLock: true | false` (the boolean `batchLockStrategy` replaced) becomes
 * `batchLockStrategy: 'deadlock-avoid' | 'sleep'`; giving both is an error.
 */
function withoutLegacyAvoidForceLock(
  spec: Record<string, unknown>,
  where: string,
): Record<string, unknown> {
  if (!('avoidForceLock' in spec)) return spec;
  const { avoidForceLock, ...rest } = spec;
  if (typeof avoidForceLock !== 'boolean') {
    throw invalid(
      `${where}.avoidForceLock must be a boolean (true or false), got ${JSON.stringify(avoidForceLock)}`,
    );
  }
  if ('batchLockStrategy' in rest) {
    throw invalid(
      `${where}.avoidForceLock is the former name of batchLockStrategy; give batchLockStrategy only`,
    );
  }
  return { ...rest, batchLockStrategy: avoidForceLock ? 'deadlock-avoid' : 'sleep' };
}

/** Checks `steps`: an object of known step names, each a function; returns it frozen. */
function checkSteps(steps: unknown, where: string): VariantSteps {
  if (!isRecord(steps)) {
    throw invalid(`${where}.steps must be an object of step functions`);
  }
  for (const [name, fn] of Object.entries(steps)) {
    if (!(VARIANT_STEP_NAMES as readonly string[]).includes(name)) {
      throw invalid(
        `${where}.steps.${name} is not a replaceable step (steps: ${VARIANT_STEP_NAMES.join(', ')})`,
      );
    }
    if (typeof fn !== 'function') {
      throw invalid(`${where}.steps.${name} must be a function, got ${typeof fn}`);
    }
  }
  return Object.isFrozen(steps) ? (steps as VariantSteps) : Object.freeze({ ...steps });
}

/**
 * Checks the settings that depend on each other: a mode that goes through
 * `migrate_pages_sync()` needs more passes than its async phase takes
 * (NR_MAX_MIGRATE_SYNC_RETRY = passes - NR_MAX_MIGRATE_ASYNC_RETRY must stay positive).
 */
function checkSettingsTogether(v: MigrateVariant, where: string): void {
  if (v.engine !== 'batch' || v.syncBatching === 'batch-all-modes') return;
  const modes: ['passesSyncLight' | 'passesSync', boolean][] = [
    ['passesSyncLight', v.syncBatching === 'async-first'],
    ['passesSync', true],
  ];
  for (const [key, viaSync] of modes) {
    if (viaSync && v[key] <= v.asyncFirstPasses) {
      throw invalid(
        `${where}.asyncFirstPasses (${v.asyncFirstPasses}) must be less than ${key} (${v[key]}): with syncBatching '${v.syncBatching}' that mode's folios get ${key} passes in all, asyncFirstPasses of them in the async batch`,
      );
    }
  }
}

const invalid = (message: string) => new MmsimError('INVALID_CONFIG', message);

/** `'a', 'b' or 'c'`. */
function listOf(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  return quoted.length === 1
    ? quoted[0]!
    : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}

/** Throws INVALID_CONFIG `<where>.<key> must be ...` when `value` is not allowed for `key`. */
export function checkVariantSetting(
  key: keyof VariantSettings,
  value: unknown,
  where: string,
): void {
  const allowed = VARIANT_SETTINGS[key];
  if (allowed === 'boolean') {
    if (typeof value !== 'boolean') {
      throw invalid(
        `${where}.${key} must be a boolean (true or false), got ${JSON.stringify(value)}`,
      );
    }
  } else if (!Array.isArray(allowed)) {
    const { min, max } = (allowed as IntegerSettingRange).integer;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw invalid(
        `${where}.${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
      );
    }
  } else if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(
      `${where}.${key} must be ${listOf(allowed as readonly string[])}, got ${JSON.stringify(value)}`,
    );
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The variant a name or a value stands for (`where` names the field in errors). */
function baseVariant(spec: unknown, where: string): MigrateVariant {
  if (typeof spec === 'string') {
    const v = (VARIANTS as Record<string, MigrateVariant>)[spec];
    if (v === undefined) {
      throw invalid(
        `${where} must be one of ${Object.keys(VARIANTS).join(', ')} or a variant value, got ${JSON.stringify(spec)}`,
      );
    }
    return v;
  }
  if (!isRecord(spec)) {
    throw invalid(`${where} must be a built-in variant name or a variant value`);
  }
  return checkVariantValue(spec, where);
}

/**
 * Checks a complete variant value field by field (every setting present with an allowed
 * value, a name, no unknown field) and returns it frozen. A value named like a built-in
 * variant must have that variant's settings.
 */
export function checkVariantValue(
  input: Record<string, unknown>,
  where = 'variant',
): MigrateVariant {
  const spec = withoutLegacyAvoidForceLock(input, where);
  const known = new Set<string>([
    'name',
    'description',
    'sources',
    'steps',
    ...VARIANT_SETTING_KEYS,
  ]);
  for (const key of Object.keys(spec)) {
    if (!known.has(key)) {
      throw invalid(`${where}.${key} is not a known field (known: ${[...known].join(', ')})`);
    }
  }
  if (typeof spec.name !== 'string' || spec.name.trim() === '' || /[\s@]/.test(spec.name)) {
    throw invalid(
      `${where}.name must be a non-empty name without spaces or '@', got ${JSON.stringify(spec.name)}`,
    );
  }
  if (typeof spec.description !== 'string') {
    throw invalid(`${where}.description must be a string`);
  }
  if (!Array.isArray(spec.sources) || !spec.sources.every((s) => typeof s === 'string')) {
    throw invalid(`${where}.sources must be an array of strings`);
  }
  for (const key of VARIANT_SETTING_KEYS) {
    if (!(key in spec)) throw invalid(`${where}.${key} is missing`);
    checkVariantSetting(key, spec[key], where);
  }
  const steps = spec.steps === undefined ? undefined : checkSteps(spec.steps, where);
  const value = spec as unknown as MigrateVariant;
  checkSettingsTogether(value, where);
  const builtIn = (VARIANTS as Record<string, MigrateVariant>)[value.name];
  if (builtIn !== undefined && variantContentHash(builtIn) !== variantContentHash(value)) {
    const differ: string[] = VARIANT_SETTING_KEYS.filter((k) => builtIn[k] !== value[k]);
    if (steps !== undefined) differ.push('steps');
    throw invalid(
      `${where}.name "${value.name}" is a built-in variant's name, but the settings differ from it (${differ.join(', ')}); give the variant a name of its own`,
    );
  }
  if (Object.isFrozen(spec) && Object.isFrozen(spec.sources) && steps === spec.steps) {
    return value;
  }
  const out = { ...value, sources: Object.freeze([...value.sources]) };
  if (steps !== undefined) (out as { steps?: VariantSteps }).steps = steps;
  return Object.freeze(out);
}

/**
 * A custom variant: the settings of `extends` with the given ones on top, checked one by one
 * (an unknown field or a value outside a setting's values throws INVALID_CONFIG naming the
 * field), under a name of its own. Returns a frozen `MigrateVariant` that `createKernel`,
 * `runScenario`, `exploreScenario`, `scenarioTarget` and the CLI accept.
 *
 * ```ts
 * const rfcOnTop = defineVariant({ name: 'my-rfc', extends: 'v6.3',
 *   syncBatching: 'batch-all-modes', forceFromPass3: true, batchFlush: 'always' });
 * ```
 */
export function defineVariant(definition: VariantDefinition): MigrateVariant {
  if (!isRecord(definition)) {
    throw invalid('defineVariant: the definition must be an object { name, extends, ...settings }');
  }
  const where = typeof definition.name === 'string' ? `variant ${definition.name}` : 'variant';
  if (!('extends' in definition)) {
    throw invalid(
      `${where}.extends is missing: name a built-in variant (v6.3, ...) or give a variant value`,
    );
  }
  const base = baseVariant(definition.extends, `${where}.extends`);
  const {
    extends: _e,
    name,
    description,
    sources,
    steps,
    ...settings
  } = withoutLegacyAvoidForceLock(definition as Record<string, unknown>, where);
  const out: Record<string, unknown> = {
    ...base,
    name,
    description:
      description === undefined
        ? `${String(name)}: ${base.name} with custom settings`
        : description,
    sources: sources === undefined ? [] : sources,
  };
  if (steps !== undefined) {
    out.steps = { ...base.steps, ...(checkSteps(steps, where) as Record<string, unknown>) };
  }
  for (const [key, value] of Object.entries(settings)) {
    if (!(key in VARIANT_SETTINGS)) {
      throw invalid(
        `${where}.${key} is not a known setting (settings: ${VARIANT_SETTING_KEYS.join(', ')})`,
      );
    }
    checkVariantSetting(key as keyof VariantSettings, value, where);
    out[key] = value;
  }
  return checkVariantValue(out, where);
}

/**
 * Settings added after content hashes were first recorded (replay token format 2), with the
 * value that reproduces what every variant did before them: at that value a setting is left
 * out of the canonical JSON, so the variants that existed before it keep their hashes and
 * their recorded tokens still replay. A new setting whose default changes no behaviour gets
 * a line here.
 */
const HASH_NEUTRAL_VALUES: Readonly<Record<string, unknown>> = Object.freeze({
  ...PROTOTYPE_KNOB_DEFAULTS,
  restoreWrprotectsReadEntry: true,
  movableProtocol: 'folio-6.3',
  tlbBatchSkipsInaccessible: false,
  copyBeforeFreeze: false,
  norefsLockCoversCopy: true,
  blockDevLargeFolios: false,
  migrateMovesShmemThps: false,
  splitThpCountersPmdOnly: false,
  // v6.10 (deferredSplitCountsFailed) and v6.11 (numaHintPutsBackList) differ here: their
  // hashes changed with the regression pack, which made these behaviours settings.
  deferredSplitCountsFailed: false,
  numaHintPutsBackList: false,
  movePagesLookup: 'follow-page',
  allocContigRangeInfo: false,
});

/**
 * The canonical JSON of a variant's policy settings (table order, no name or description),
 * and of its replacement steps (each step's name and function source text). So that the
 * hashes of the variants that existed before them stay the same, the settings added since
 * (`HASH_NEUTRAL_VALUES`: the prototype knobs and later switches) appear only when they
 * differ from the value that changes nothing, and
 * `batchLockStrategy` appears as the boolean `avoidForceLock` it replaced unless it is
 * `'trylock'`.
 */
export function variantSettingsJson(variant: MigrateVariant): string {
  const o: Record<string, unknown> = {};
  for (const key of VARIANT_SETTING_KEYS) {
    const value = variant[key];
    if (key === 'batchLockStrategy' && value !== 'trylock') {
      o.avoidForceLock = value === 'deadlock-avoid';
    } else if (!(key in HASH_NEUTRAL_VALUES) || HASH_NEUTRAL_VALUES[key] !== value) {
      o[key] = value;
    }
  }
  const steps = variant.steps;
  if (steps !== undefined) {
    const named: Record<string, string> = {};
    for (const name of VARIANT_STEP_NAMES) {
      const fn = steps[name];
      if (fn !== undefined) named[name] = String(fn);
    }
    if (Object.keys(named).length > 0) o.steps = named;
  }
  return JSON.stringify(o);
}

const hashes = new WeakMap<MigrateVariant, string>();

/**
 * SHA-256 (hex) of the canonical JSON of a variant's policy settings: equal for two variants
 * that behave alike whatever their names, descriptions and sources. Recorded in replay
 * tokens and findings.
 */
export function variantContentHash(variant: MigrateVariant): string {
  const known = hashes.get(variant);
  if (known !== undefined) return known;
  const hash = sha256Hex(variantSettingsJson(variant));
  if (Object.isFrozen(variant)) hashes.set(variant, hash);
  return hash;
}

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** SHA-256 of a string's UTF-8 bytes, in hex (FIPS 180-4; no platform crypto needed). */
export function sha256Hex(text: string): string {
  const bytes = new TextEncoder().encode(text);
  const bitLen = bytes.length * 8;
  const total = Math.ceil((bytes.length + 9) / 64) * 64;
  const buf = new Uint8Array(total);
  buf.set(bytes);
  buf[bytes.length] = 0x80;
  const view = new DataView(buf.buffer);
  view.setUint32(total - 8, Math.floor(bitLen / 0x100000000));
  view.setUint32(total - 4, bitLen >>> 0);
  const h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  const w = new Uint32Array(64);
  const rotr = (x: number, n: number) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(off + i * 4);
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15]!;
      const b = w[i - 2]!;
      const s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >>> 3);
      const s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) >>> 0;
    }
    let [a, b, c, d, e, f, g, hh] = [h[0]!, h[1]!, h[2]!, h[3]!, h[4]!, h[5]!, h[6]!, h[7]!];
    for (let i = 0; i < 64; i++) {
      const t1 =
        (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) >>>
        0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) >>> 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) >>> 0;
    }
    h[0] = (h[0]! + a) >>> 0;
    h[1] = (h[1]! + b) >>> 0;
    h[2] = (h[2]! + c) >>> 0;
    h[3] = (h[3]! + d) >>> 0;
    h[4] = (h[4]! + e) >>> 0;
    h[5] = (h[5]! + f) >>> 0;
    h[6] = (h[6]! + g) >>> 0;
    h[7] = (h[7]! + hh) >>> 0;
  }
  return Array.from(h, (x) => x.toString(16).padStart(8, '0')).join('');
}

/**
 * The variant for a name, or a variant value (one made by `defineVariant`, or any complete
 * `MigrateVariant`) checked field by field: a free-form name, every setting present with one
 * of its values, no unknown field; a built-in name only with that variant's settings.
 * Throws INVALID_CONFIG naming what to fix.
 */
export function resolveVariant(spec: VariantName | MigrateVariant | undefined): MigrateVariant {
  if (spec === undefined) return VARIANTS[DEFAULT_VARIANT];
  if (typeof spec === 'string') {
    const v = (VARIANTS as Record<string, MigrateVariant>)[spec];
    if (v === undefined) {
      throw new MmsimError(
        'INVALID_CONFIG',
        `variant must be one of ${Object.keys(VARIANTS).join(', ')} or a variant value (defineVariant), got ${JSON.stringify(spec)}`,
      );
    }
    return v;
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new MmsimError('INVALID_CONFIG', 'variant must be a variant name or a MigrateVariant');
  }
  return checkVariantValue(spec as unknown as Record<string, unknown>);
}
