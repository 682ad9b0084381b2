import type { BatchResult, FindingKind } from '@mmsim/explore';

/**
 * A batch's result as it crosses from a worker thread to the command's thread: its numbers
 * in one Float64Array (transferred, not copied), and the counts by kind and by name only for
 * a batch with findings (most batches have none). A PCT batch's runs go as pairs of numbers
 * in the array, not as one small array per schedule.
 */
export interface WireBatchResult {
  /** schedules, findings, firstIndex, firstStepLimitIndex, then the PCT runs' pairs. */
  readonly numbers: Float64Array<ArrayBuffer>;
  readonly found?: {
    readonly firstKind: FindingKind | null;
    readonly byKind: BatchResult['findingsByKind'];
    readonly byName: BatchResult['findingsByName'];
  };
}

/** Encodes null as -1 and "absent" (no `stepLimitApart`) as -2. */
const NONE = -1;
const ABSENT = -2;
const HEADER = 4;

export function encodeBatchResult(result: BatchResult): WireBatchResult {
  const numbers = new Float64Array(HEADER + 2 * result.pctRuns.length);
  numbers[0] = result.schedules;
  numbers[1] = result.findings;
  numbers[2] = result.firstIndex ?? NONE;
  numbers[3] =
    result.firstStepLimitIndex === undefined ? ABSENT : (result.firstStepLimitIndex ?? NONE);
  let i = HEADER;
  for (const [tasks, decisions] of result.pctRuns) {
    numbers[i++] = tasks;
    numbers[i++] = decisions;
  }
  if (result.findings === 0 && result.firstIndex === null) return { numbers };
  return {
    numbers,
    found: {
      firstKind: result.firstKind,
      byKind: result.findingsByKind,
      byName: result.findingsByName,
    },
  };
}

export function decodeBatchResult(wire: WireBatchResult): BatchResult {
  const n = wire.numbers;
  const pctRuns: [number, number][] = [];
  for (let i = HEADER; i + 1 < n.length; i += 2) pctRuns.push([n[i] as number, n[i + 1] as number]);
  const stepLimit = n[3] as number;
  return {
    schedules: n[0] as number,
    findings: n[1] as number,
    findingsByKind: wire.found?.byKind ?? {},
    findingsByName: wire.found?.byName ?? {},
    firstIndex: n[2] === NONE ? null : (n[2] as number),
    firstKind: wire.found?.firstKind ?? null,
    ...(stepLimit === ABSENT ? {} : { firstStepLimitIndex: stepLimit === NONE ? null : stepLimit }),
    pctRuns,
  };
}
