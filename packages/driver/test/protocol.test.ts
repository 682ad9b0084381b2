import { type Folio, FolioList, folioNid, folioTestFlag, PG_isolated } from '@mmsim/folio';
import { createKernel } from '@mmsim/kernel';
import {
  clearPageMovable,
  defineVariant,
  folioMovableOps,
  ISOLATE_ASYNC_MIGRATE,
  MIGRATE_ASYNC,
  MIGRATEPAGE_SUCCESS,
  type MigrateVariant,
  VARIANTS,
  type VariantName,
} from '@mmsim/migrate';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import { defineDriver } from '../src/index.js';
import { migrateAll, migrateList } from './support.js';

/** Mainline after the 2025 rework, as a custom variant (the built-in one is `v6.17`). */
const mainline2025 = defineVariant({
  name: 'mainline-2025',
  extends: 'v6.11',
  movableProtocol: 'page-type-2025',
});

function machine(variant: VariantName | MigrateVariant) {
  return createKernel({ nodes: [{ pages: 256 }, { pages: 256 }], variant });
}

/** Records, inside migrate_page, whether src still had its operations after the move. */
const observing = defineDriver({
  name: 'observing',
  setup: () => ({ srcKeptOps: [] as boolean[], migrated: 0 }),
  isolatePage: () => true,
  migratePage(s, dst, src, _mode, host) {
    host.movePage(dst, src);
    s.srcKeptOps.push(folioMovableOps(host.kernel.mem, src) !== null);
    s.migrated++;
    return MIGRATEPAGE_SUCCESS;
  },
  putbackPage() {},
  populate(_s, host, nid, count) {
    for (let i = 0; i < count; i++) host.allocPage(nid, 40 + i);
  },
});

describe('the movable_ops protocol of each variant (movableProtocol)', () => {
  it('v6.17 follows the page-type-2025 protocol, every other built-in variant folio-6.3', () => {
    for (const v of Object.values(VARIANTS)) {
      expect(v.movableProtocol, v.name).toBe(v.name === 'v6.17' ? 'page-type-2025' : 'folio-6.3');
    }
  });

  for (const [variant, kept] of [
    ['v6.3', false],
    ['v6.11', false],
    ['v6.12', false],
    [mainline2025, true],
    ['v6.17', true],
  ] as const) {
    const name = typeof variant === 'string' ? variant : variant.name;
    it(`${name}: the SDK's movePage ${kept ? 'leaves src its operations (sticky until freed)' : 'clears src (__ClearPageMovable)'}; the pages move`, () => {
      const k = machine(variant);
      const d = observing.attach(k);
      d.populate(0, 3);
      k.rt.spawn('compact', 0, function* (): KernelGen {
        yield* migrateAll(k, () => d.host.pages, 1, MIGRATE_ASYNC);
      });
      k.run();
      expect(d.state.srcKeptOps).toEqual([kept, kept, kept]);
      expect(d.host.pages.map((f) => folioNid(k.mem, f))).toEqual([1, 1, 1]);
      expect(k.shadow.verifyAll()).toEqual([]);
      expect(k.migrate.warnings).toEqual([]);
    });
  }

  for (const [variant, released] of [
    ['v6.3', true],
    [mainline2025, false],
    ['v6.17', false],
  ] as const) {
    const name = typeof variant === 'string' ? variant : variant.name;
    it(`${name}: an isolated page whose operations a driver cleared is ${released ? 'a release: success without migrate_page' : 'a warning and a failure: the operations are sticky'}`, () => {
      const k = machine(variant);
      const d = observing.attach(k);
      d.populate(0, 1);
      const [page] = d.host.pages as [Folio];
      let succeeded = -1;
      k.rt.spawn('compact', 0, function* (): KernelGen {
        expect(k.migrate.isolateMovablePage(page, ISOLATE_ASYNC_MIGRATE)).toBe(true);
        clearPageMovable(k.mem, page); // a folio-6.3 style release while isolated
        const list = new FolioList(k.mem);
        list.addTail(page);
        succeeded = (yield* migrateList(k, list, 1, MIGRATE_ASYNC)).stats.nrSucceeded;
      });
      k.run();
      expect(d.state.migrated).toBe(0);
      expect(succeeded).toBe(released ? 1 : 0);
      expect(k.migrate.warnings).toEqual(
        released
          ? []
          : [
              `WARNING in migrate_movable_ops_page: folio ${page} has no movable_ops while isolated: a driver cleared them (page-type-2025 has no __ClearPageMovable)`,
              `WARNING in putback_movable_ops_page: folio ${page} has no movable_ops while isolated: a driver cleared them (page-type-2025 has no __ClearPageMovable)`,
            ],
      );
      expect(folioTestFlag(k.mem, page, PG_isolated)).toBe(false);
    });
  }
});
