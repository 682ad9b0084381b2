import { type AttachedDriver, virtioBalloon, zsmalloc } from '@mmsim/driver';
import type { Kernel } from '@mmsim/kernel';
import {
  defineVariant,
  MIGRATE_ASYNC,
  MIGRATE_SYNC,
  MR_COMPACTION,
  MR_SYSCALL,
} from '@mmsim/migrate';
import { describe, expect, it } from 'vitest';
import { exploreScenario, givenFolios, migrator, type Scenario } from '../src/index.js';

/** A driver's pages under move_pages and compaction while its own operations run. */
function withDriver(
  name: string,
  attach: (k: Kernel) => { d: AttachedDriver<unknown>; ops: Array<[string, number]> },
): Scenario {
  return {
    name,
    title: `${name} pages under migration`,
    description:
      'The driver populates node 0; move_pages and compaction move its pages while its operations run.',
    sources: [],
    config: { nodes: [{ pages: 256 }, { pages: 256 }], cpusPerNode: 2 },
    build(k) {
      const { d, ops } = attach(k);
      const pages = givenFolios(() => d.host.pages);
      return {
        setup: function* () {
          d.populate(0, 6);
        },
        actors: [
          migrator(k, {
            name: 'move_pages',
            cpu: 0,
            mode: MIGRATE_SYNC,
            reason: MR_SYSCALL,
            rounds: 2,
            select: pages,
          }),
          migrator(k, {
            name: 'kcompactd',
            cpu: 1,
            mode: MIGRATE_ASYNC,
            reason: MR_COMPACTION,
            rounds: 2,
            select: pages,
            targets: [0, 1],
            skipOnTarget: false,
          }),
          ...ops.map(([op, arg], i) => d.actor(op, { cpu: 2 + (i % 2), arg })),
        ],
      };
    },
  };
}

const balloon = withDriver('balloon-under-migration', (k) => ({
  d: virtioBalloon.attach(k) as AttachedDriver<unknown>,
  ops: [
    ['inflate', 3],
    ['deflate', 4],
  ],
}));
const zs = withDriver('zsmalloc-under-migration', (k) => ({
  d: zsmalloc.attach(k) as AttachedDriver<unknown>,
  ops: [
    ['zs_free', 9],
    ['zs_malloc', 4],
    ['zs_compact', 2],
  ],
}));
const mainline2025 = defineVariant({
  name: 'mainline-2025',
  extends: 'v6.11',
  movableProtocol: 'page-type-2025',
});

describe('the real drivers under exploration, every kernel invariant checked', () => {
  for (const scenario of [balloon, zs]) {
    for (const variant of ['v6.3', 'v6.2', mainline2025] as const) {
      const name = typeof variant === 'string' ? variant : variant.name;
      it(`${scenario.name} on ${name}: no finding in 25 random and 25 PCT schedules`, () => {
        for (const strategy of ['random', 'pct'] as const) {
          const r = exploreScenario(scenario, { variant, strategy, schedules: 25, seed: 7 });
          expect(r.found, r.message).toBe(false);
        }
      });
    }
  }
});
