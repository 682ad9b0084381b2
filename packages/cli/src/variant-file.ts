import { readFileSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type VariantName, variantFileJsonSchema, variantFileSchema } from '@mmsim/kernel';
import {
  defineVariant,
  type MigrateVariant,
  resolveVariant,
  VARIANTS,
  variantContentHash,
} from '@mmsim/migrate';
import { MmsimError } from '@mmsim/runtime';
import { parse as parseYaml } from 'yaml';
import { fileErrorMessage } from './file-error.js';
import { UsageError } from './usage-error.js';

/**
 * `--variant` given a file: a pure-policy variant file (`.json`, `.yaml`: `extends` plus
 * settings, checked by `variantFileSchema`) or a module (`.mjs`, `.js`, and `.ts` where a
 * TypeScript loader is active, e.g. `pnpm mmsim` runs under tsx) exporting a variant as
 * `default` or `variant`. Modules load asynchronously, so `bin.ts` loads the ones named on
 * the command line (`preloadVariantModules`) before the synchronous `main` runs.
 */

const DATA_FILE = /\.(json|ya?ml)$/i;
const MODULE_FILE = /\.(m?js|c?js|m?ts)$/i;

/** Whether a `--variant` value names a file rather than a built-in variant. */
export function isVariantFile(text: string): boolean {
  return DATA_FILE.test(text) || MODULE_FILE.test(text) || /[\\/]/.test(text);
}

/** What loading a module gave, by absolute path: a variant or the one-line reason it failed. */
const loadedModules = new Map<string, MigrateVariant | string>();

/** The `--variant` values (and `--variants` list items) of an argument list that name modules. */
function moduleArguments(argv: readonly string[]): string[] {
  const out: string[] = [];
  argv.forEach((arg, i) => {
    const value =
      arg === '--variant' ? argv[i + 1] : arg.startsWith('--variant=') ? arg.slice(10) : undefined;
    if (value !== undefined && MODULE_FILE.test(value)) out.push(value);
    // `mmsim compare --variants a,./b.ts`: each item of the list.
    const list =
      arg === '--variants'
        ? argv[i + 1]
        : arg.startsWith('--variants=')
          ? arg.slice(11)
          : undefined;
    for (const item of list?.split(',') ?? []) {
      if (MODULE_FILE.test(item.trim())) out.push(item.trim());
    }
  });
  return out;
}

/**
 * Imports every variant module named by `--variant` in `argv` and keeps the variant (or why it
 * could not be had) for `variantOption`. Never throws: a problem is reported, exit 2, when the
 * command reads the option.
 */
export async function preloadVariantModules(argv: readonly string[]): Promise<void> {
  for (const file of moduleArguments(argv)) {
    const path = resolve(file);
    if (loadedModules.has(path)) continue;
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      loadedModules.set(
        path,
        e.code === 'ERR_MODULE_NOT_FOUND' && (e.message ?? '').includes(path)
          ? fileErrorMessage(
              'cannot read variant module',
              file,
              Object.assign(new Error('no such file'), { code: 'ENOENT' }),
            )
          : e.code === 'ERR_UNKNOWN_FILE_EXTENSION'
            ? `${file}: this node cannot load ${extname(file)} modules; run mmsim under tsx (pnpm mmsim) or give a .mjs module`
            : `${file}: the module failed to load: ${String(e.message ?? e).split('\n')[0]}`,
      );
      continue;
    }
    const value = mod.default ?? mod.variant;
    if (value === undefined) {
      loadedModules.set(
        path,
        `${file}: the module exports no variant (export it as default or as variant)`,
      );
      continue;
    }
    try {
      loadedModules.set(path, resolveVariant(value as MigrateVariant));
    } catch (error) {
      loadedModules.set(
        path,
        `${file}: ${error instanceof MmsimError ? error.message : String(error)}`,
      );
    }
  }
}

/** Reads and checks a pure-policy variant file; a problem is a UsageError naming the field. */
export function loadVariantFile(path: string): MigrateVariant {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(fileErrorMessage('cannot read variant file', path, error));
  }
  const yaml = /\.ya?ml$/i.test(path);
  let data: unknown;
  try {
    data = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `${path}: not valid ${yaml ? 'YAML' : 'JSON'}: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  const parsed = variantFileSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || '(top level)';
    if (issue.code === 'unrecognized_keys') {
      throw new UsageError(
        `${path}: ${issue.keys.join(', ')} is not a known setting (see mmsim schema --variant)`,
      );
    }
    if (issue.code === 'invalid_type' && issue.received === 'undefined') {
      throw new UsageError(`${path}: ${field} is missing: it ${issue.message}`);
    }
    throw new UsageError(`${path}: ${field} ${issue.message}`);
  }
  const { $schema: _schema, name, ...rest } = parsed.data;
  try {
    return defineVariant({
      ...(rest as Omit<Parameters<typeof defineVariant>[0], 'name'>),
      name: name ?? basename(path).replace(/\.[^.]*$/, ''),
    });
  } catch (error) {
    if (error instanceof MmsimError) throw new UsageError(`${path}: ${error.message}`);
    throw error;
  }
}

/**
 * The variant a `--variant` value stands for: a built-in name (returned as is), a variant
 * file, or a module loaded by `preloadVariantModules`. Undefined when not given.
 */
export function variantOption(text: string | undefined): VariantName | MigrateVariant | undefined {
  if (text === undefined) return undefined;
  if (!isVariantFile(text)) {
    if (!(text in VARIANTS)) {
      throw new UsageError(
        `--variant must be one of ${Object.keys(VARIANTS).join(', ')} or a variant file (.json, .yaml, .mjs, .js, .ts); got "${text}"`,
      );
    }
    return text as VariantName;
  }
  if (DATA_FILE.test(text)) return loadVariantFile(text);
  const loaded = loadedModules.get(resolve(text));
  if (loaded === undefined) {
    throw new UsageError(
      `--variant ${text}: a variant module is loaded before the command runs (preloadVariantModules); give a .json/.yaml file here`,
    );
  }
  if (typeof loaded === 'string') throw new UsageError(loaded);
  return loaded;
}

/** A variant's name, for messages and `scenario@variant`. */
export function variantNameOf(variant: VariantName | MigrateVariant): string {
  return typeof variant === 'string' ? variant : variant.name;
}

/** The identity a token records: the variant's name and the hash of its settings. */
export function variantIdentity(variant: VariantName | MigrateVariant): {
  name: VariantName;
  contentHash: string;
} {
  const v = resolveVariant(variant);
  return { name: v.name as VariantName, contentHash: variantContentHash(v) };
}

/** The JSON Schema of variant files (`mmsim schema --variant`, schema/variant-file.schema.json). */
export function variantFileSchemaJson(): Record<string, unknown> {
  return variantFileJsonSchema();
}
