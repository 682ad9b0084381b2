import { describe, expect, test } from 'vitest';
import { Runtime, type TraceEvent, traceEvent } from '../src/index.js';

// The buses of all runtimes of a process share one table of name slots (the tracepoints of a
// bus are an array by slot); what one bus defines or subscribes must stay its own.
describe('the tracepoints of one bus', () => {
  test('are its own: names, printk, listeners and enabled, whatever other buses defined', () => {
    const a = new Runtime();
    const b = new Runtime();
    const base = a.trace.names();
    expect(b.trace.names()).toEqual(base);
    // Defined in a different order on each bus, and one only on a.
    const onlyA = a.trace.define(traceEvent<{ n: number }>('bus_test_only_a', (f) => `n=${f.n}`));
    const a2 = a.trace.define('bus_test_shared_2');
    const a1 = a.trace.define('bus_test_shared_1');
    const b1 = b.trace.define('bus_test_shared_1');
    const b2 = b.trace.define('bus_test_shared_2');
    expect(a1).not.toBe(b1);
    expect(a.trace.define('bus_test_shared_1')).toBe(a1);
    expect(b.trace.define('bus_test_shared_2')).toBe(b2);
    expect(a2).not.toBe(b2);
    expect(a.trace.names()).toEqual(
      [...base, 'bus_test_only_a', 'bus_test_shared_1', 'bus_test_shared_2'].sort(),
    );
    expect(b.trace.names()).toEqual([...base, 'bus_test_shared_1', 'bus_test_shared_2'].sort());
    expect(b.trace.timelineOf('bus_test_only_a')).toBeNull();
    expect(b.trace.timelineOf('bus_test_never_defined')).toBeNull();
    const seenA: string[] = [];
    const offA = a.trace.on('bus_test_shared_1', (e) => seenA.push(e.name));
    expect(a1.enabled).toBe(true);
    expect(b1.enabled).toBe(false);
    b1.emit({});
    a1.emit({});
    expect(seenA).toEqual(['bus_test_shared_1']);
    offA();
    expect(a1.enabled).toBe(false);
    const lines: string[] = [];
    a.trace.on('bus_test_only_a', (e) => lines.push(a.trace.formatFields(e)));
    onlyA.emit({ n: 4 });
    expect(lines).toEqual(['n=4']);
  });

  test("'*' reaches the tracepoints defined before and after it, on its bus only, until removed", () => {
    const a = new Runtime();
    const b = new Runtime();
    const before = a.trace.define('bus_test_before');
    const seen: TraceEvent[] = [];
    const off = a.trace.on('*', (e) => seen.push(e));
    const after = a.trace.define('bus_test_after');
    const other = b.trace.define('bus_test_after');
    expect([before.enabled, after.enabled, other.enabled]).toEqual([true, true, false]);
    before.emit({});
    after.emit({});
    other.emit({});
    expect(seen.map((e) => e.name)).toEqual(['bus_test_before', 'bus_test_after']);
    // A listener of its own stays when the wildcard goes.
    const own: string[] = [];
    a.trace.on('bus_test_after', (e) => own.push(e.name));
    off();
    expect([before.enabled, after.enabled]).toEqual([false, true]);
    after.emit({});
    before.emit({});
    expect(seen).toHaveLength(2);
    expect(own).toEqual(['bus_test_after']);
  });

  test('a name that is not snake_case is refused on every bus, and gets no slot', () => {
    const a = new Runtime();
    expect(() => a.trace.define('Bus Test Bad')).toThrow(/snake_case/);
    expect(() => new Runtime().trace.define('Bus Test Bad')).toThrow(/snake_case/);
    expect(a.trace.names()).not.toContain('Bus Test Bad');
  });
});
