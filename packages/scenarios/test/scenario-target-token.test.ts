import { replay } from '@mmsim/explore';
import { decodeRunMeta } from '@mmsim/explore/internal';
import { VARIANTS, variantContentHash } from '@mmsim/migrate';
import { decodeReplayToken, type MmsimError } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { exploreScenario, rfcLockOrder, scenarioTarget } from '../src/index.js';

const HASH = 'ab'.repeat(32);

describe("a scenario target's replay token", () => {
  const found = exploreScenario(rfcLockOrder(), {
    variant: 'rfc-2022',
    strategy: 'pct',
    schedules: 1000,
    seed: 1,
    disable: ['page-lock-inversion'],
    source: { sha256: HASH },
  });

  it('carries the variant, the scenario file hash and the disabled check', () => {
    expect(found.kind).toBe('deadlock');
    const meta = decodeRunMeta(decodeReplayToken(found.replay!).meta)!;
    expect(meta.identity).toEqual({
      variant: { name: 'rfc-2022', contentHash: variantContentHash(VARIANTS['rfc-2022']) },
      file: { sha256: HASH },
    });
    expect(meta.disable).toEqual(['page-lock-inversion']);
  });

  it('replays as the same deadlock, and names a changed scenario file', () => {
    const same = scenarioTarget(rfcLockOrder(), {
      variant: 'rfc-2022',
      source: { sha256: HASH },
    });
    const again = replay(same, found.replay!);
    expect(again.finding).toEqual(found.finding);
    expect(again.differences).toEqual([]);
    const builtIn = replay(scenarioTarget(rfcLockOrder(), { variant: 'rfc-2022' }), found.replay!);
    expect(builtIn.finding?.kind).toBe('deadlock');
    expect(builtIn.differences).toEqual([`file: recorded {"sha256":"${HASH}"}, now null`]);
  });

  it('refuses a source that is not a SHA-256', () => {
    let code = '';
    try {
      scenarioTarget(rfcLockOrder(), { source: { sha256: 'abc' } });
    } catch (error) {
      code = (error as MmsimError).code;
    }
    expect(code).toBe('INVALID_CONFIG');
  });
});
