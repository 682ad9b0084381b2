import { createKernel } from '@mmsim/kernel';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '@mmsim/rmap';
import { VmEvent } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  createUserland,
  MPOL_BIND,
  MPOL_DEFAULT,
  MPOL_INTERLEAVE,
  MPOL_MF_MOVE,
  nodemaskWords,
} from '../src/index.js';
import { MAXNODE } from './numa-helpers.js';

/*
 * The selftests' shape: threads reading and writing their pages while another thread of
 * the process moves them with mbind(MPOL_MF_MOVE) and migrate_pages(2) in a loop, under
 * random schedules. No write may be lost, no read may see a stale value (the shadow
 * memory checks every load), and the rmap must be consistent at the end.
 */

const PAGES = 6;
const PAGE = 4096;

function runOnce(seed: number) {
  const kernel = createKernel({
    nodes: [{ pages: 256 }, { pages: 256 }],
    seed,
    strategy: 'random',
  });
  const user = createUserland(kernel);
  const p = user.createProcess({ name: 'numa' });
  const rets: number[] = [];
  const finals: number[] = [];
  const vmaCounts: number[] = [];
  let base = 0;
  user.spawnThread(p, 0, function* (sys) {
    base = yield* sys.mmap(0, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    for (let i = 0; i < PAGES; i++) yield* sys.write(base + i * PAGE, i);
    sys.spawnThread(function* (t) {
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < PAGES; i++) {
          const v = yield* t.read(base + i * PAGE);
          yield* t.write(base + i * PAGE, v + 100);
        }
      }
      t.checkpointWake(7);
    }, 2);
    for (let round = 0; round < 3; round++) {
      const to = round % 2 === 0 ? 1 : 0;
      rets.push(
        yield* sys.mbind(base, 2 * PAGE, MPOL_BIND, nodemaskWords([to]), MAXNODE, MPOL_MF_MOVE),
      );
      rets.push(
        yield* sys.mbind(
          base + 2 * PAGE,
          2 * PAGE,
          MPOL_INTERLEAVE,
          nodemaskWords([0, 1]),
          MAXNODE,
          MPOL_MF_MOVE,
        ),
      );
      const r = yield* sys.migratePages(0, MAXNODE, nodemaskWords([1 - to]), nodemaskWords([to]));
      rets.push(Math.min(r, 0));
      // the default again: the VMA split above merges back into one
      rets.push(yield* sys.mbind(base, PAGES * PAGE, MPOL_DEFAULT, null, 0, 0));
      vmaCounts.push(
        sys.mm.vmas.filter((v) => v.start >= base && v.end <= base + PAGES * PAGE).length,
      );
    }
    yield* sys.checkpointWait(7);
    for (let i = 0; i < PAGES; i++) finals.push(yield* sys.read(base + i * PAGE));
  });
  const result = kernel.run();
  return { kernel, result, rets, finals, vmaCounts };
}

describe("mbind and migrate_pages racing with the process's own accesses", () => {
  it('no lost write, no stale read and a consistent rmap over 40 random schedules', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const { kernel, result, rets, finals, vmaCounts } = runOnce(seed);
      expect(vmaCounts, `seed ${seed}`).toEqual([1, 1, 1]);
      expect(result.deadlock, `seed ${seed}`).toBeNull();
      expect(
        rets.every((r) => r >= 0),
        `seed ${seed}: ${rets.join(',')}`,
      ).toBe(true);
      expect(kernel.shadow.violations, `seed ${seed}`).toEqual([]);
      expect(finals, `seed ${seed}`).toEqual([400, 401, 402, 403, 404, 405]);
      expect(kernel.vm.check(), `seed ${seed}`).toEqual([]);
      expect(kernel.vmstat.vmEvent(VmEvent.PGMIGRATE_SUCCESS), `seed ${seed}`).toBeGreaterThan(4);
    }
  });
});
