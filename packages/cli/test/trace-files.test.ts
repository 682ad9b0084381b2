import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { type CliIo, EXIT_OK, main, processIo } from '../src/index.js';

function mmsim(args: string[]): number {
  const quiet: CliIo = {
    ...processIo(),
    stdout: () => {},
    stderr: () => {},
    isTTY: false,
    env: {},
  };
  return main(args, quiet);
}

interface TraceEvent {
  ph: string;
  pid?: number;
  tid?: number;
  ts?: number;
  id?: number;
  name?: string;
}

test('the Perfetto trace of pmbench-migrate parses, nests its slices per track and pairs its flows', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mmsim-trace-'));
  const file = join(dir, 'pmbench.json');
  expect(mmsim(['run', 'pmbench-migrate', '--variant', 'v6.3', '--trace', file])).toBe(EXIT_OK);
  const doc = JSON.parse(readFileSync(file, 'utf8')) as {
    traceEvents: TraceEvent[];
    metadata: object;
  };
  const events = doc.traceEvents;
  expect(doc.metadata).toMatchObject({ scenario: 'pmbench-migrate', variant: 'v6.3' });
  // Slices: on every track, B and E pair up like parentheses, in time order.
  const stacks = new Map<string, string[]>();
  for (const e of events) {
    if (e.ph !== 'B' && e.ph !== 'E') continue;
    const track = `${e.pid}/${e.tid}`;
    const stack = stacks.get(track) ?? [];
    if (e.ph === 'B') stack.push(e.name ?? '');
    else expect(stack.pop()).toBeDefined();
    stacks.set(track, stack);
  }
  expect([...stacks.values()].every((s) => s.length === 0)).toBe(true);
  expect(events.filter((e) => e.ph === 'B' && e.name === 'migrate_pages').length).toBeGreaterThan(
    0,
  );
  // Kernel-function slices: the unmap, flush and move phases of each batch.
  for (const func of [
    'migrate_pages_batch',
    'migrate_folio_unmap',
    'try_to_migrate',
    'try_to_unmap_flush',
    'migrate_folio_move',
    'remove_migration_ptes',
  ]) {
    expect(events.some((e) => e.ph === 'B' && e.name === func)).toBe(true);
  }
  // Flows: every start has exactly one finish with the same id, later or at the same time.
  const starts = new Map(events.filter((e) => e.ph === 's').map((e) => [e.id, e.ts ?? 0]));
  const finishes = events.filter((e) => e.ph === 'f');
  expect(starts.size).toBeGreaterThan(0);
  expect(finishes).toHaveLength(starts.size);
  for (const f of finishes) {
    expect(starts.has(f.id)).toBe(true);
    expect(f.ts ?? 0).toBeGreaterThanOrEqual(starts.get(f.id) ?? 0);
  }
});

test('ftrace text of a tiny seeded run matches the golden file', () => {
  const golden = new URL('./golden/rfc-lock-order-v6.3-seed3.ftrace', import.meta.url);
  const dir = mkdtempSync(join(tmpdir(), 'mmsim-trace-'));
  const file = join(dir, 'run.ftrace');
  expect(
    mmsim([
      'run',
      'rfc-lock-order',
      '--variant',
      'v6.3',
      '--strategy',
      'random',
      '--seed',
      '3',
      '--ftrace',
      file,
    ]),
  ).toBe(EXIT_OK);
  const text = readFileSync(file, 'utf8');
  // MMSIM_UPDATE_GOLDEN=1 rewrites the golden file after a deliberate model change.
  if (process.env.MMSIM_UPDATE_GOLDEN === '1' || !existsSync(golden)) writeFileSync(golden, text);
  expect(text).toBe(readFileSync(golden, 'utf8'));
  expect(text).toContain('mm_migrate_pages: nr_succeeded=');
});
