import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { type CliIo, EXIT_OK, main, processIo } from '../src/index.js';
import { FTRACE_GOLDEN_FILE, ftraceGoldenArgs } from './support/model-outputs.js';

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
  // Each folio's journey: isolated, a step at its move from src to another dst, then freed.
  const journey = events.filter((e) => e.name === 'folio journey');
  const byId = new Map<number, Array<TraceEvent & { args?: { src?: number; dst?: number } }>>();
  for (const e of journey) byId.set(e.id ?? 0, [...(byId.get(e.id ?? 0) ?? []), e]);
  expect(byId.size).toBe(1024);
  for (const flow of byId.values()) {
    expect(flow.map((e) => e.ph)).toEqual(['s', 't', 'f']);
    const step = flow[1]?.args;
    expect(step?.dst).not.toBe(step?.src);
  }
});

test('ftrace text of a tiny seeded run matches the golden file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mmsim-trace-'));
  const file = join(dir, 'run.ftrace');
  expect(mmsim(ftraceGoldenArgs(file))).toBe(EXIT_OK);
  const text = readFileSync(file, 'utf8');
  // `pnpm --filter @mmsim/cli golden:update` records the golden file after a deliberate model change.
  expect(text).toBe(readFileSync(FTRACE_GOLDEN_FILE, 'utf8'));
  expect(text).toContain('mm_migrate_pages: nr_succeeded=');
});

function mmsimOut(args: string[]): { code: number; out: string } {
  let out = '';
  const io: CliIo = {
    ...processIo(),
    stdout: (s) => {
      out += s;
    },
    stderr: () => {},
    isTTY: false,
    env: {},
  };
  return { code: main(args, io), out };
}

/** `comm-pid` of the task that wrote each ftrace line, and the line's CPU. */
function ftraceLines(text: string): Array<{ task: string; cpu: number; line: string }> {
  return text
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((line) => {
      const m = /^ *(\S.*?-\d+) +\[(\d{3})\]/.exec(line);
      if (m === null) throw new Error(`not an ftrace line: ${line}`);
      return { task: m[1] as string, cpu: Number(m[2]), line };
    });
}

test('the pmbench-migrate ftrace has lines on every CPU that ran a task and names every task', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mmsim-trace-'));
  const file = join(dir, 'pmbench.ftrace');
  expect(mmsim(['run', 'pmbench-migrate', '--variant', 'v6.3', '--ftrace', file])).toBe(EXIT_OK);
  const lines = ftraceLines(readFileSync(file, 'utf8'));
  // The migrator and the four pmbench threads, each on its own CPU.
  const expected = new Map([
    ['migratepages-2', 0],
    ['pmbench/0-3', 1],
    ['pmbench/1-4', 2],
    ['pmbench/2-5', 3],
    ['pmbench/3-6', 4],
  ]);
  for (const [task, cpu] of expected) {
    // The task writes lines of its own on its CPU...
    expect(lines.some((l) => l.task === task && l.cpu === cpu)).toBe(true);
    // ...and its first appearance there is the idle task switching to it.
    const [comm, pid] = [
      task.slice(0, task.lastIndexOf('-')),
      task.slice(task.lastIndexOf('-') + 1),
    ];
    const first = lines.find((l) => l.cpu === cpu && l.line.includes(`next_pid=${pid} `));
    expect(first?.task).toBe('<idle>-0');
    expect(first?.line).toContain(
      `sched_switch: prev_comm=swapper/${cpu} prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=${comm} next_pid=${pid}`,
    );
  }
  // Every CPU that ran a task has lines of it.
  const cpus = new Set(lines.filter((l) => l.task !== '<idle>-0').map((l) => l.cpu));
  expect([...cpus].sort()).toEqual([0, 1, 2, 3, 4]);
  // The pmbench threads sleep (on migration entries) and are woken: D, then a sched_wakeup.
  expect(
    lines.some(
      (l) => l.task === 'pmbench/0-3' && l.line.includes('prev_state=D ==> next_comm=swapper/1'),
    ),
  ).toBe(true);
  expect(
    lines.some((l) =>
      l.line.includes('sched_wakeup: comm=pmbench/0 pid=3 prio=120 target_cpu=001'),
    ),
  ).toBe(true);
});

test('a replayed loop-bh-deadlock trace names every task of the cycle, asleep to the end', () => {
  const found = mmsimOut(['explore', 'loop-bh-deadlock', '--disable', 'page-lock-inversion']);
  expect(found.out).toContain('deadlock: a wait-for cycle of 2 task(s)');
  const token = /mmsim replay (\S+)/.exec(found.out)?.[1] as string;
  const dir = mkdtempSync(join(tmpdir(), 'mmsim-trace-'));
  const ftrace = join(dir, 'dl.ftrace');
  const trace = join(dir, 'dl.json');
  mmsim(['replay', token, '--ftrace', ftrace, '--trace', trace]);
  const lines = ftraceLines(readFileSync(ftrace, 'utf8'));
  const cycle = [
    ['kworker/loop0-2', 'folio lock of pfn 0x1'],
    ['kcompactd0-4', 'buffer lock of buffer 0 of folio 0x3'],
    ['jbd2/loop0-3', 'buffer lock of buffer 0 of folio 0x3'],
  ] as const;
  const doc = JSON.parse(readFileSync(trace, 'utf8')) as {
    traceEvents: Array<TraceEvent & { args?: Record<string, unknown> }>;
  };
  const events = doc.traceEvents;
  const end = Math.max(...events.map((e) => e.ts ?? 0));
  for (const [task, waitsFor] of cycle) {
    const pid = Number(task.slice(task.lastIndexOf('-') + 1));
    // ftrace: the task's last line is its switch away, asleep (D).
    const own = lines.filter((l) => l.task === task);
    expect(own.at(-1)?.line).toMatch(/sched_switch: .* prev_state=D ==> next_comm=swapper\//);
    // Perfetto: the task's track is named, and its last slice is the sleep, open to the end.
    expect(events.some((e) => e.ph === 'M' && e.tid === pid && e.args?.name === task)).toBe(true);
    const slices = events.filter(
      (e) => e.pid === 2 && e.tid === pid && (e.ph === 'B' || e.ph === 'E'),
    );
    const sleep = slices.filter((e) => e.ph === 'B').at(-1);
    expect(sleep?.name).toBe(waitsFor);
    const closing = slices.find((e) => e.ph === 'E' && e.args?.unfinished === true);
    expect(closing?.ts).toBe(end);
  }
  // Slices still pair up on every track.
  const depth = new Map<string, number>();
  for (const e of events) {
    if (e.ph !== 'B' && e.ph !== 'E') continue;
    const key = `${e.pid}/${e.tid}`;
    const d = (depth.get(key) ?? 0) + (e.ph === 'B' ? 1 : -1);
    expect(d).toBeGreaterThanOrEqual(0);
    depth.set(key, d);
  }
  expect([...depth.values()].every((d) => d === 0)).toBe(true);
});

test('--vmstat prints the real nr_free_pages, and --node-vmstat writes each node as nodeN/vmstat', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mmsim-vmstat-'));
  const file = join(dir, 'vmstat');
  const nodes = join(dir, 'nodes');
  expect(mmsim(['run', 'pmbench-migrate', '--vmstat', file, '--node-vmstat', nodes])).toBe(EXIT_OK);
  const parse = (text: string) =>
    new Map(
      text
        .trim()
        .split('\n')
        .map((l) => {
          const [name, value] = l.split(' ');
          return [name as string, Number(value)] as const;
        }),
    );
  const global = parse(readFileSync(file, 'utf8'));
  const node0 = parse(readFileSync(join(nodes, 'node0', 'vmstat'), 'utf8'));
  const node1 = parse(readFileSync(join(nodes, 'node1', 'vmstat'), 'utf8'));
  expect(existsSync(join(nodes, 'node2'))).toBe(false);
  // Some frames are free, not all: the process and the page tables use some.
  const free = global.get('nr_free_pages') ?? 0;
  expect(free).toBeGreaterThan(0);
  expect(free).toBeLessThan(4096);
  // The node files hold the node items only (the events are global), summing to the global ones.
  expect(node0.has('pgmigrate_success')).toBe(false);
  for (const [name, value] of node0) expect(value + (node1.get(name) ?? 0)).toBe(global.get(name));
  expect(node0.get('nr_anon_pages')).toBeGreaterThan(0);
});
