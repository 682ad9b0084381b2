import { folioTestKsm } from '@mmsim/folio';
import { VARIANTS, type VariantName } from '@mmsim/migrate';
import { PAGE_SIZE } from '@mmsim/rmap';
import { describe, expect, it } from 'vitest';
import { builtinScenario, exploreScenario, ksmd, ksmMigrate, runScenario } from '../src/index.js';

/*
 * KSM in scenarios (mm/ksm.c, mm/migrate.c, Linux 6.3): the ksmd actor and the built-in
 * `ksm-migrate` (the shape of LTP migrate_pages03): KSM folios merged by ksmd migrate back
 * and forth with every mapping following, while ksmd scans and a thread writes.
 */

describe('ksm-migrate', () => {
  it('runs clean: the KSM page is merged, migrated, and no write is lost', () => {
    const run = runScenario(builtinScenario('ksm-migrate'));
    expect(run.error).toBeNull();
    expect(run.result?.status).toBe('completed');
    expect(run.violations).toEqual([]);
    expect(run.figures.pagesMigrated).toBeGreaterThan(0);
    expect(run.figures.ksmdPagesScanned).toBeGreaterThan(0);
    // The peer process never writes: its pages stay merged in one KSM page.
    expect(run.figures.pagesShared).toBeGreaterThanOrEqual(1);
    const k = run.kernel;
    const peer = k.vm.processes.find((p) => p.name === 'ksm-peer')!;
    const addr = peer.vmas[1]!.start;
    const kpage = k.vm.followPage(peer, addr);
    expect(folioTestKsm(k.mem, kpage)).toBe(true);
    expect(k.vm.ksmStableNode(kpage)?.kpfn).toBe(kpage);
    for (let i = 0; i < 6; i++) expect(k.vm.followPage(peer, addr + i * PAGE_SIZE)).toBe(kpage);
  });

  for (const strategy of ['random', 'pct'] as const) {
    it(`exploration (${strategy}): ksmd + writer + migrator, no invariant violation and no lost write`, () => {
      const r = exploreScenario(ksmMigrate(), { strategy, seed: 7, schedules: 40 });
      expect(r.finding?.message ?? null).toBeNull();
      expect(r.found).toBe(false);
    });
  }

  it('runs clean in every built-in variant (every variant has the 4b0ece6fa016 fix)', () => {
    for (const variant of Object.keys(VARIANTS) as VariantName[]) {
      const run = runScenario(builtinScenario('ksm-migrate'), { variant });
      expect({ variant, error: run.error?.message ?? null, violations: run.violations }).toEqual({
        variant,
        error: null,
        violations: [],
      });
      expect(run.figures.pagesMigrated).toBeGreaterThan(0);
    }
  });

  it('ksmd rejects bad options with a typed error', () => {
    const k = runScenario(ksmMigrate({ migrations: 1, scans: 0, accesses: 0 })).kernel;
    expect(() => ksmd(k, { cpu: 0, batches: -1 })).toThrow(/batches must be an integer/);
    expect(() => ksmd(k, { cpu: 0, batches: 1, pagesToScan: 0 })).toThrow(/pagesToScan/);
    expect(() => builtinScenario('ksm-migrate', { pages: 0 })).toThrow(/params.pages/);
  });
});
