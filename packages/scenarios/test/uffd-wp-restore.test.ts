import { folioGet, folioPut } from '@mmsim/folio';
import { createKernel, touchPages } from '@mmsim/kernel';
import { defineVariant, VARIANTS } from '@mmsim/migrate';
import {
  isMigrationEntry,
  MAP_ANONYMOUS,
  MAP_SHARED,
  mkMigrationEntry,
  mkPte,
  PAGE_SIZE,
  PTE_DIRTY,
  PTE_SOFT_DIRTY,
  PTE_UFFD_WP,
  PTE_WRITE,
  PTE_YOUNG,
  pteSwpMkuffdWp,
  pteSwpUffdWp,
  pteUffdWp,
  pteWrite,
  SWP_MIGRATION_READ,
  SWP_MIGRATION_WRITE,
} from '@mmsim/rmap';
import type { KernelGen } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  builtinScenario,
  exploreScenario,
  RESTORED_PTE_INVARIANT,
  restoredPteProblem,
  runScenario,
} from '../src/index.js';

/** The kernel before Peter Xu's fix (6.1-rc4): the restore keeps vm_page_prot's write bit. */
const beforeFix = defineVariant({
  name: 'v6.1-rc4-restore',
  extends: 'v6.2',
  restoreWrprotectsReadEntry: false,
});

describe('uffd-wp-restore (Peter Xu, 2022)', () => {
  it('finds a uffd-wp page restored writable in the kernel before the fix', () => {
    const run = runScenario(builtinScenario('uffd-wp-restore'), { variant: beforeFix });
    expect(run.error).toBeNull();
    const v = run.violations.find((x) => x.invariant === RESTORED_PTE_INVARIANT);
    expect(v?.message).toMatch(/the restored PTE gained the write permission/);
    expect(v?.message).toMatch(/after: present pfn 0x[0-9a-f]+ write .*uffd-wp/);
  });

  it('exploration finds it in the kernel before the fix, not in any built-in variant', () => {
    const before = exploreScenario(builtinScenario('uffd-wp-restore'), {
      variant: beforeFix,
      schedules: 20,
      seed: 1,
    });
    expect(before.kind).toBe('invariant');
    for (const variant of Object.keys(VARIANTS)) {
      const r = exploreScenario(builtinScenario('uffd-wp-restore'), {
        variant: variant as keyof typeof VARIANTS,
        schedules: 20,
        seed: 1,
      });
      expect({ variant, found: r.found }).toEqual({ variant, found: false });
    }
  });

  it('in the fixed kernel every page migrated: protected ones come back read-only and uffd-wp, the others writable', () => {
    const run = runScenario(builtinScenario('uffd-wp-restore', { reads: 0 }), {
      variant: 'v6.3',
    });
    expect(run.error).toBeNull();
    expect(run.violations).toEqual([]);
    const mm = run.kernel.vm.processes.find((p) => p.name === 'vm-snapshot')!;
    const vma = mm.vmas[0]!;
    const ptes = [0, 1, 2, 3].map((i) => run.kernel.vm.lookupPte(mm, vma.start + i * PAGE_SIZE));
    expect(ptes.map((p) => [p.kind, p.write, pteUffdWp(p.raw)])).toEqual([
      ['present', false, true],
      ['present', false, true],
      ['present', true, false],
      ['present', true, false],
    ]);
  });
});

describe('the uffd-wp bit through try_to_migrate and remove_migration_ptes', () => {
  /** One shmem page, written, write-protected; returns the PTE seen in the middle and after. */
  function migrateProtected(variant: 'v6.3' | typeof beforeFix) {
    const k = createKernel({ nodes: [{ pages: 256 }, { pages: 256 }], variant });
    const mm = k.createProcess('p');
    const addr = k.vm.mmap(mm, { length: PAGE_SIZE, flags: MAP_SHARED | MAP_ANONYMOUS });
    const seen: number[] = [];
    k.rt.spawn('t', 0, function* (): KernelGen {
      yield* touchPages(k, mm, addr, 1, () => 5);
      k.vm.userfaultfdRegisterWp(mm, addr, PAGE_SIZE);
      yield* k.vm.uffdioWriteprotect(mm, addr, PAGE_SIZE, true);
      const table = () => mm.pageTables.get(Math.floor(addr / PAGE_SIZE / 512))!;
      const vpn = (addr / PAGE_SIZE) % 512;
      seen.push(table().ptes[vpn] as number);
      const folio = k.vm.followPage(mm, addr);
      expect(k.locks.folioTrylock(folio, 'test')).toBe(true);
      folioGet(k.mem, folio); // the caller's own reference (migration's isolation)
      yield* k.rmap.tryToMigrate(folio, 0);
      seen.push(table().ptes[vpn] as number);
      yield* k.rmap.removeMigrationPtes(folio, folio, false);
      seen.push(table().ptes[vpn] as number);
      folioPut(k.mem, folio);
      k.locks.folioUnlock(folio);
    });
    k.rt.run();
    return seen;
  }

  it('the migration entry carries uffd-wp; the fixed restore gives back a read-only uffd-wp PTE', () => {
    const [before, entry, after] = migrateProtected('v6.3');
    expect(pteUffdWp(before!)).toBe(true);
    expect(pteWrite(before!)).toBe(false);
    expect(isMigrationEntry(entry!)).toBe(true);
    expect(pteSwpUffdWp(entry!)).toBe(true);
    expect(pteUffdWp(after!)).toBe(true);
    expect(pteWrite(after!)).toBe(false);
    expect(restoredPteProblem(before!, entry!, after!)).toBeNull();
  });

  it('the restore before the fix gives back a writable PTE still marked uffd-wp', () => {
    const [before, entry, after] = migrateProtected(beforeFix);
    expect(pteWrite(after!)).toBe(true);
    expect(pteUffdWp(after!)).toBe(true);
    expect(restoredPteProblem(before!, entry!, after!)).toMatch(/gained the write permission/);
  });
});

describe('restoredPteProblem', () => {
  const pfn = 0x42;
  it('accepts the legal restores: writable to writable, read-only to read-only, young lost', () => {
    const w = mkPte(pfn, PTE_WRITE | PTE_DIRTY | PTE_YOUNG | PTE_SOFT_DIRTY);
    const we = mkMigrationEntry(pfn, SWP_MIGRATION_WRITE, true, true, true);
    expect(restoredPteProblem(w, we, w)).toBeNull();
    const r = mkPte(pfn, PTE_YOUNG);
    const re = mkMigrationEntry(pfn, SWP_MIGRATION_READ, false, false, false);
    expect(restoredPteProblem(r, re, mkPte(pfn, 0))).toBeNull();
    const p = mkPte(pfn, PTE_UFFD_WP);
    expect(restoredPteProblem(p, pteSwpMkuffdWp(re), p)).toBeNull();
  });

  it('rejects a gained write bit, a lost uffd-wp, soft-dirty or dirty, and an entry that lost them', () => {
    const r = mkPte(pfn, 0);
    const re = mkMigrationEntry(pfn, SWP_MIGRATION_READ, false, false, false);
    expect(restoredPteProblem(r, re, mkPte(pfn, PTE_WRITE))).toMatch(/gained the write/);
    const p = mkPte(pfn, PTE_UFFD_WP);
    expect(restoredPteProblem(p, pteSwpMkuffdWp(re), r)).toMatch(/restored PTE lost uffd-wp/);
    expect(restoredPteProblem(p, re, p)).toMatch(/entry lost uffd-wp/);
    const sd = mkPte(pfn, PTE_SOFT_DIRTY);
    const sde = mkMigrationEntry(pfn, SWP_MIGRATION_READ, false, false, true);
    expect(restoredPteProblem(sd, sde, r)).toMatch(/restored PTE lost soft-dirty/);
    const d = mkPte(pfn, PTE_WRITE | PTE_DIRTY);
    const de = mkMigrationEntry(pfn, SWP_MIGRATION_WRITE, false, true, false);
    expect(restoredPteProblem(d, de, mkPte(pfn, PTE_WRITE))).toMatch(/restored PTE lost dirty/);
    expect(restoredPteProblem(d, re, d)).toMatch(/does not carry the write permission/);
  });
});
