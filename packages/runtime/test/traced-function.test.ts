import { describe, expect, test } from 'vitest';
import {
  type KernelGen,
  MmsimError,
  Runtime,
  tracedFunction,
  tracedPlainFunction,
} from '../src/index.js';

interface Ctx {
  readonly rt: Runtime;
}

describe('tracedFunction', () => {
  test('a traced function gets every argument, traced or not', () => {
    const nine = tracedFunction(
      'nine',
      function* (
        _ctx: Ctx,
        a: number,
        b: number,
        c: number,
        d: number,
        e: number,
        f: number,
        g: number,
        h: number,
        i: number,
      ): KernelGen<number[]> {
        yield;
        return [a, b, c, d, e, f, g, h, i];
      },
    );
    const plain = tracedPlainFunction('plain', (_ctx: Ctx, a: string, b: string) => a + b);
    for (const listen of [false, true]) {
      const rt = new Runtime();
      const events: string[] = [];
      if (listen) rt.trace.on('funcgraph_entry', (e) => events.push(String(e.fields.func)));
      let got: number[] = [];
      let joined = '';
      rt.spawn('t', 0, function* (): KernelGen {
        got = yield* nine({ rt }, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        joined = plain({ rt }, 'x', 'y');
      });
      rt.run();
      expect(got).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(joined).toBe('xy');
      expect(events).toEqual(listen ? ['nine', 'plain'] : []);
    }
  });

  test('a body with more parameters than are passed is refused when declared', () => {
    const body = function* (
      _ctx: Ctx,
      _a: number,
      _b: number,
      _c: number,
      _d: number,
      _e: number,
      _f: number,
      _g: number,
      _h: number,
      _i: number,
      _j: number,
    ): KernelGen {
      yield;
    };
    expect(() => tracedFunction('ten', body)).toThrow(MmsimError);
    expect(() => tracedPlainFunction('ten', (_c: Ctx, ...xs: number[]) => xs.length)).not.toThrow();
  });
});
