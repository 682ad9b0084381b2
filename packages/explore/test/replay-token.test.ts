import { encodeReplayToken, type KernelGen, type MmsimError, Mutex, Runtime } from '@mmsim/runtime';
import { describe, expect, test } from 'vitest';
import {
  type ExplorationTarget,
  explore,
  replay,
  shrink,
  type TargetIdentity,
} from '../src/index.js';
import { decodeRunMeta } from '../src/internal.js';

declare module '../src/index.js' {
  interface CheckKinds {
    /** A test check's kind: both tasks hold their first mutex (the AB-BA order is inverted). */
    'order-inverted': { readonly holders: number };
  }
}

/**
 * AB-BA with a lock-order check of its own: the check reports as soon as both tasks hold
 * their first mutex, one step before the deadlock. With the check off, the deadlock is found.
 */
function checkedAbba(identity?: TargetIdentity): ExplorationTarget {
  return {
    name: 'checked-ab-ba',
    ...(identity === undefined ? {} : { identity }),
    instantiate({ runtime }) {
      const rt = new Runtime({ cpus: 2, ...runtime });
      const a = new Mutex(rt, 'mutex A');
      const b = new Mutex(rt, 'mutex B');
      let holders = 0;
      const take = (first: Mutex, second: Mutex) =>
        function* (): KernelGen {
          yield* first.lock('lock_first');
          holders++;
          yield;
          yield* second.lock('lock_second');
          yield;
          second.unlock();
          first.unlock();
          holders--;
        };
      rt.spawn('ab', 0, take(a, b));
      rt.spawn('ba', 1, take(b, a));
      const check = {
        name: 'lock-order',
        check: () =>
          holders < 2
            ? null
            : {
                kind: 'order-inverted' as const,
                message: 'both first mutexes are held',
                detail: 'order inverted',
                data: { holders },
              },
      };
      return { rt, invariants: [], checks: [check] };
    },
  };
}

function code(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    return `${(error as MmsimError).code}: ${(error as Error).message}`;
  }
  return 'no error';
}

describe('replay tokens carry what decides the finding', () => {
  test('a deadlock found with a check disabled replays as that deadlock, step for step', () => {
    const found = explore(checkedAbba(), { strategy: 'dfs', disable: ['lock-order'] });
    expect(found.kind).toBe('deadlock');
    const again = replay(checkedAbba(), found.replay!);
    expect(again.finding?.kind).toBe('deadlock');
    expect(again.finding).toEqual(found.finding);
    expect(again.steps).toEqual(found.finding!.steps);
    // With every check on, the same target reports the inversion first.
    expect(explore(checkedAbba(), { strategy: 'dfs' }).kind).toBe('order-inverted');
  });

  test('shrink takes the disabled checks from the finding it is given', () => {
    const found = explore(checkedAbba(), {
      strategy: 'dfs',
      disable: ['lock-order'],
      shrink: false,
    });
    expect(shrink(checkedAbba(), found.original!).finding.kind).toBe('deadlock');
  });

  test('the token names the extra invariants; a replay without them is refused', () => {
    const quiet = { name: 'always-fine', check: () => null };
    const found = explore(checkedAbba(), {
      strategy: 'dfs',
      disable: ['lock-order'],
      invariants: [quiet],
    });
    expect(decodeRunMeta(decodeMeta(found.replay!))?.invariants).toEqual(['always-fine']);
    expect(code(() => replay(checkedAbba(), found.replay!))).toMatch(
      /^INVALID_REPLAY_TOKEN: .*extra invariant\(s\) \[always-fine\]: pass the invariant\(s\) always-fine again/,
    );
    expect(replay(checkedAbba(), found.replay!, { invariants: [quiet] }).finding?.kind).toBe(
      'deadlock',
    );
  });

  test('a token of format 1 (no disabled checks recorded) is refused with a clear message', () => {
    const old = encodeReplayToken({
      seed: 1,
      meta: JSON.stringify({ 'mmsim-explore': 1, target: 'checked-ab-ba', maxSteps: 100_000 }),
      pairs: [0, 1, 1, 1],
    });
    expect(code(() => replay(checkedAbba(), old))).toMatch(
      /^INVALID_REPLAY_TOKEN: the token was made by an older mmsim \(explore token format 1\).*explore again/,
    );
    const future = encodeReplayToken({
      seed: 1,
      meta: JSON.stringify({ 'mmsim-explore': 9, target: 'checked-ab-ba', maxSteps: 100_000 }),
      pairs: [],
    });
    expect(code(() => replay(checkedAbba(), future))).toMatch(/explore token format 9/);
  });

  test("the target's identity is recorded; a replay says where it differs", () => {
    const recorded = { file: { sha256: 'aa' }, variant: { name: 'x', contentHash: null } };
    const found = explore(checkedAbba(recorded), { strategy: 'dfs', disable: ['lock-order'] });
    expect(replay(checkedAbba(recorded), found.replay!).differences).toEqual([]);
    const changed = { file: { sha256: 'bb' }, variant: { name: 'x', contentHash: null } };
    expect(replay(checkedAbba(changed), found.replay!).differences).toEqual([
      'file.sha256: recorded "aa", now "bb"',
    ]);
    expect(replay(checkedAbba(), found.replay!).differences).toEqual([
      'file: recorded {"sha256":"aa"}, now null',
      'variant: recorded {"name":"x","contentHash":null}, now null',
    ]);
  });

  test('an identity that is not an object is refused', () => {
    const bad = { ...checkedAbba(), identity: 'v6.3' as unknown as TargetIdentity };
    expect(code(() => explore(bad))).toMatch(/^INVALID_CONFIG/);
  });
});

function decodeMeta(token: string): string {
  return Buffer.from(token.split('.')[2]!, 'base64url').toString('utf8');
}
