import { readFileSync } from 'node:fs';
import { kernelConfigSchema } from '@mmsim/kernel';
import { BUILTIN_PARAM_SCHEMAS, SCENARIO_NAMES, type Scenario } from '@mmsim/scenarios';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { zodToJsonSchema } from 'zod-to-json-schema';
import { builtInNames, builtInScenario } from './catalog.js';
import { fileErrorMessage } from './file-error.js';
import {
  actorScenarioProblem,
  actorScenarioSchema,
  scenarioFromActors,
} from './scenario-actors.js';
import { UsageError } from './usage-error.js';

/**
 * A scenario file (JSON or YAML) is one of two forms. The first names a built-in
 * scenario, its parameters, and overrides of its kernel configuration (nodes, CPUs, variant, costs, seed, strategy, checking,
 * faults: the schema `createKernel` validates, every field optional here).
 *
 * ```yaml
 * scenario: loop-bh-deadlock
 * params: { }
 * config:
 *   variant: v6.3-rc1
 *   seed: 7
 * ```
 */
export const builtInFileSchema = z
  .object({
    $schema: z.string().optional().describe('The JSON Schema of the file, for editors.'),
    scenario: z
      .string({ required_error: 'must name a built-in scenario' })
      .describe('The built-in scenario (see `mmsim scenarios`).'),
    params: z.record(z.unknown()).optional().describe('Parameters of the scenario.'),
    config: kernelConfigSchema
      .partial()
      .optional()
      .describe("Overrides of the scenario's machine and run (every field optional)."),
  })
  .strict();

/**
 * The second form writes the scenario as data: `name`, a full `config`, `processes`
 * (anonymous mappings touched at set-up) and `actors` (`user-task`, `migrator`); see
 * `scenario-actors.ts`. A file is read as the first form when it has a `scenario` key.
 */
export const scenarioFileSchema = z.union([builtInFileSchema, actorScenarioSchema]);

export type ScenarioFile = z.infer<typeof scenarioFileSchema>;

/**
 * The built-in form once more, one object per scenario with its own `params` schema
 * (`BUILTIN_PARAM_SCHEMAS` of @mmsim/scenarios), so that editors complete and check the
 * parameters. Only the JSON Schema is generated from it: `loadScenarioFile` reads the name
 * first, then checks `params` with the same schemas, to name the field in its message.
 */
const documentedFileSchema = z.union([
  ...(SCENARIO_NAMES.map((name) =>
    builtInFileSchema.extend({
      scenario: z.literal(name).describe('The built-in scenario (see `mmsim scenarios`).'),
      params: BUILTIN_PARAM_SCHEMAS[name]
        .optional()
        .describe(`Parameters of ${name}; every one optional, unknown ones are refused.`),
    }),
  ) as unknown as [z.ZodTypeAny, z.ZodTypeAny, ...z.ZodTypeAny[]]),
  actorScenarioSchema,
]);

/** The published JSON Schema of scenario files, generated from the same zod schemas. */
export function scenarioFileJsonSchema(): Record<string, unknown> {
  return zodToJsonSchema(documentedFileSchema, {
    name: 'MmsimScenarioFile',
    $refStrategy: 'none',
  }) as Record<string, unknown>;
}

function pathOf(path: ReadonlyArray<string | number>): string {
  return path.reduce<string>(
    (acc, key) => (typeof key === 'number' ? `${acc}[${key}]` : acc === '' ? key : `${acc}.${key}`),
    '',
  );
}

function fieldError(path: string, error: z.ZodError): UsageError {
  const issue = error.issues[0]!;
  const field = pathOf(issue.path) || '(top level)';
  return new UsageError(`${path}: ${field} ${issue.message}`);
}

/** Parses and validates a scenario file; a problem is a UsageError naming the field. */
export function loadScenarioFile(path: string): { scenario: Scenario; file: ScenarioFile } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(fileErrorMessage('cannot read scenario file', path, error));
  }
  let data: unknown;
  try {
    data = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      // The first line: YAML's message goes on to quote the line with a caret under it.
      `${path}: not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  const isBuiltIn = typeof data === 'object' && data !== null && 'scenario' in data;
  if (!isBuiltIn) {
    const parsed = actorScenarioSchema.safeParse(data);
    if (!parsed.success) throw fieldError(path, parsed.error);
    const problem = actorScenarioProblem(parsed.data);
    if (problem !== null) throw new UsageError(`${path}: ${problem[0]} ${problem[1]}`);
    return { scenario: scenarioFromActors(parsed.data), file: parsed.data };
  }
  const parsed = builtInFileSchema.safeParse(data);
  if (!parsed.success) throw fieldError(path, parsed.error);
  const file = parsed.data;
  if (!builtInNames().includes(file.scenario)) {
    throw new UsageError(
      `${path}: scenario must be one of ${builtInNames().join(', ')}; got "${file.scenario}"`,
    );
  }
  let scenario: Scenario;
  try {
    scenario = builtInScenario(file.scenario, file.params);
  } catch (error) {
    const message = (error as Error).message;
    throw new UsageError(`${path}: ${message.startsWith('params') ? '' : 'params: '}${message}`);
  }
  return { scenario, file };
}
