import type { DriverDefinition } from '@mmsim/driver';
import { describe, expect, it } from 'vitest';
import {
  checkDriverSync,
  DRIVER_CHECK_NAMES,
  type DriverCheckName,
  replayDriver,
} from '../src/index.js';
import dropsPageLock from './gallery/drops-page-lock.js';
import extraReference from './gallery/extra-reference.js';
import forgetsSetMovable from './gallery/forgets-set-movable.js';
import lockInversion from './gallery/lock-inversion.js';
import noMove from './gallery/no-move.js';
import returnsUndefined from './gallery/returns-undefined.js';
import secondCopy from './gallery/second-copy.js';
import setsIsolated from './gallery/sets-isolated.js';
import useAfterPutback from './gallery/use-after-putback.js';

/** Each broken driver of the gallery, the check that must catch it, and words of its message. */
const GALLERY: readonly [string, DriverCheckName, RegExp, DriverDefinition<never>][] = [
  [
    'extra-reference',
    'references-balance',
    /dst 0x[0-9a-f]+ went from 1 to 3 references/,
    extraReference as never,
  ],
  [
    'sets-isolated',
    'pg-isolated',
    /isolate_page set PG_isolated on page 0x[0-9a-f]+ itself/,
    setsIsolated as never,
  ],
  [
    'drops-page-lock',
    'page-locked-during-migrate',
    /migrate_page dropped the page lock of src/,
    dropsPageLock as never,
  ],
  [
    'forgets-set-movable',
    'dst-movable-src-released',
    /dst 0x[0-9a-f]+ is not movable with its operations/,
    forgetsSetMovable as never,
  ],
  [
    'no-move',
    'data-at-dst',
    /MIGRATEPAGE_SUCCESS but the data is not at dst .*still keeps its data at src/,
    noMove as never,
  ],
  [
    'use-after-putback',
    'no-use-after-putback',
    /writePage\(0x[0-9a-f]+\) uses a page the driver no longer owns \(the driver let it go in putback_page\)/,
    useAfterPutback as never,
  ],
  [
    'second-copy',
    'no-page-lost-or-duplicated',
    /failed \(-11\) but left dst 0x[0-9a-f]+ set up as its page/,
    secondCopy as never,
  ],
  [
    'lock-inversion',
    'lock-order',
    /locks taken in both orders.*lock-inversion:reclaim_lock/,
    lockInversion as never,
  ],
  ['returns-undefined', 'callback-contract', /migrate_page/, returnsUndefined as never],
];

describe('the gallery of broken drivers', () => {
  it.each(GALLERY)(
    '%s fails check %s with a readable message and a token that reproduces it',
    (_name, check, words, driver) => {
      const report = checkDriverSync(driver);
      expect(report.verdict).toBe('fail');
      const row = report.checks.find((c) => c.name === check);
      expect(row?.status, JSON.stringify(report.findings.map((f) => [f.check, f.message]))).toBe(
        'fail',
      );
      expect(row?.message).toMatch(words);
      const again = replayDriver(driver, row?.replay as string);
      expect(again.finding?.check).toBe(check);
      expect(again.finding?.message).toBe(row?.message);
    },
  );

  it('has one broken driver for every check', () => {
    expect(GALLERY.map((g) => g[1]).sort()).toEqual([...DRIVER_CHECK_NAMES].sort());
  });
});
