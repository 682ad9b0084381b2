import { describe, expect, test } from 'vitest';
import { FATAL_SIGNAL_SITE, MmsimError, Runtime } from '../src/index.js';

describe("a runtime's fault sites, kept in a list", () => {
  test('each name has one site; a name registered again gives that site back', () => {
    const rt = new Runtime({ seed: 3 });
    const names = ['z.last', 'a.first', 'm.middle', 'b.second', 'y.other', 'c.third'];
    const sites = names.map((name) => rt.faults.register(name, `site ${name}`));
    expect(new Set(sites).size).toBe(names.length);
    names.forEach((name, i) => {
      expect(rt.faults.register(name, 'another description')).toBe(sites[i]);
      expect(rt.faults.get(name)).toBe(sites[i]);
      expect(sites[i]?.description).toBe(`site ${name}`);
    });
    expect(rt.faults.get('not.registered')).toBeUndefined();
    expect(rt.faults.names()).toEqual([...names, FATAL_SIGNAL_SITE].sort());
  });

  test('configure reaches the named site only, and refuses an unknown name', () => {
    const rt = new Runtime({ seed: 3 });
    const a = rt.faults.register('site.a', 'a');
    const b = rt.faults.register('site.b', 'b');
    rt.faults.configure({ 'site.b': { calls: [2] } });
    expect([a.fire(), a.fire()]).toEqual([false, false]);
    expect([b.fire(), b.fire(), b.fire()]).toEqual([false, true, false]);
    expect(() => rt.faults.configure({ 'site.c': { calls: [1] } })).toThrow(MmsimError);
    expect(() => rt.faults.configure({ 'site.c': { calls: [1] } })).toThrow(
      `faults.site.c is not a fault site; known sites: ${[FATAL_SIGNAL_SITE, 'site.a', 'site.b'].sort().join(', ')}`,
    );
  });
});
