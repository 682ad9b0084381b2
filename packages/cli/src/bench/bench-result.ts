/** One benchmark figure. `value` is in `unit`; higher or lower is better as `better` says. */
export interface BenchResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  /** What was measured, in a sentence. */
  readonly description: string;
  /** Extra numbers (operations, durations, samples) for whoever reads the JSON. */
  readonly detail?: Readonly<Record<string, number | string>>;
}

/** Figures as a markdown table under a one-line heading. */
export function formatBenchMarkdown(heading: string, results: readonly BenchResult[]): string {
  const fmt = (v: number) =>
    Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3);
  return [
    heading,
    '',
    '| figure | value | unit | better |',
    '|---|---:|---|---|',
    ...results.map((r) => `| ${r.name} | ${fmt(r.value)} | ${r.unit} | ${r.better} |`),
    '',
  ].join('\n');
}
