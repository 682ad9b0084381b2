import { describe, expect, test } from 'vitest';
import { Runtime, type TraceEvent, traceEvent, tracepointSet } from '../src/index.js';

const DEMO_ALLOC = traceEvent<{ pfn: number }>('demo_alloc', (f) => `pfn=0x${f.pfn.toString(16)}`, {
  slice: 'demo',
  phase: 'begin',
});
const DEMO_PLAIN = traceEvent<{ nr: number }>('demo_plain');

class DemoTracepoints extends tracepointSet({ alloc: DEMO_ALLOC, plain: DEMO_PLAIN }) {}

describe('tracepointSet: one declaration of a package tracepoints', () => {
  test('an instance defines every tracepoint on the bus, with its printk and timeline role', () => {
    const rt = new Runtime();
    expect(rt.trace.names()).not.toContain('demo_alloc');
    const tps = new DemoTracepoints(rt);
    expect(rt.trace.names()).toEqual(expect.arrayContaining(['demo_alloc', 'demo_plain']));
    expect(tps.alloc).toBe(rt.trace.define('demo_alloc'));
    expect(tps.plain).toBe(rt.trace.define('demo_plain'));
    expect(rt.trace.timelineOf('demo_alloc')).toEqual({ slice: 'demo', phase: 'begin' });
    const seen: TraceEvent[] = [];
    rt.trace.on('*', (e) => seen.push(e));
    expect(tps.alloc.enabled && tps.plain.enabled).toBe(true);
    tps.alloc.emit({ pfn: 0x400 });
    tps.plain.emit({ nr: 3 });
    expect(seen.map((e) => `${e.name}: ${rt.trace.formatFields(e)}`)).toEqual([
      'demo_alloc: pfn=0x400',
      'demo_plain: nr=3',
    ]);
  });

  test('of(rt) gives one set a runtime, another for another runtime', () => {
    const a = new Runtime();
    const b = new Runtime();
    const setA = DemoTracepoints.of(a);
    expect(DemoTracepoints.of(a)).toBe(setA);
    const setB = DemoTracepoints.of(b);
    expect(setB).not.toBe(setA);
    expect(setB.alloc).toBe(b.trace.define('demo_alloc'));
    expect(setB.alloc).not.toBe(setA.alloc);
  });

  test("of(rt) keeps its set on the runtime's bus, not in a side table keyed by it", () => {
    const rt = new Runtime();
    expect(rt.trace.tracepointSets.size).toBe(0);
    const set = DemoTracepoints.of(rt);
    expect(rt.trace.tracepointSets.size).toBe(1);
    expect([...rt.trace.tracepointSets.values()]).toEqual([set]);
  });

  test('every instance has the same properties in the declaration order (one object shape)', () => {
    const x = new DemoTracepoints(new Runtime());
    const y = DemoTracepoints.of(new Runtime());
    expect(Object.keys(x)).toEqual(['alloc', 'plain']);
    expect(Object.keys(y)).toEqual(Object.keys(x));
  });

  test('keys that are not identifiers are stored as written, each its own tracepoint', () => {
    // The instance's properties are set by code compiled from the keys: quotes, backslashes,
    // line breaks and code-like text in a key are a key, never code.
    const odd = ["it's", 'a"b', 'back\\slash', 'line\nbreak', '"]; throw 1; //', '0', 'plain'];
    const DEMO_ODD = odd.map((_, i) => traceEvent<{ nr: number }>(`demo_odd_${i}`));
    const definitions: Record<string, (typeof DEMO_ODD)[number]> = {};
    odd.forEach((key, i) => {
      definitions[key] = DEMO_ODD[i]!;
    });
    const OddTracepoints = tracepointSet(definitions);
    const rt = new Runtime();
    const tps = new OddTracepoints(rt) as unknown as Record<string, unknown>;
    expect(Object.keys(tps).sort()).toEqual([...odd].sort());
    odd.forEach((key, i) => {
      expect(tps[key]).toBe(rt.trace.define(`demo_odd_${i}`));
    });
  });
});
