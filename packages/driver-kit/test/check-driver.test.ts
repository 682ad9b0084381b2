import { type DriverHost, defineDriver } from '@mmsim/driver';
import type { Folio } from '@mmsim/folio';
import { clearPageMovable, defineVariant, MIGRATEPAGE_SUCCESS } from '@mmsim/migrate';
import { EAGAIN, type KernelGen, MmsimError, Mutex } from '@mmsim/runtime';
import { describe, expect, it } from 'vitest';
import {
  checkDriver,
  checkDriverSync,
  DRIVER_CHECK_NAMES,
  defaultPlans,
  formatDriverReport,
  replayDriver,
} from '../src/index.js';
import noMove from './gallery/no-move.js';

/** The smallest correct driver: pages on the host's list, moved with `movePage`. */
const plain = defineDriver({
  name: 'plain',
  setup: () => ({}),
  isolatePage: () => true,
  migratePage(_s, dst, src, _mode, host) {
    host.movePage(dst, src);
    return MIGRATEPAGE_SUCCESS;
  },
  putbackPage() {},
  populate(_s, host, nid, count) {
    for (let i = 0; i < count; i++) host.allocPage(nid, 100 + i);
  },
});

interface Pool {
  readonly lock: Mutex;
  readonly pages: Set<Folio>;
  readonly isolated: Set<Folio>;
}

/**
 * A balloon-like driver with its own lock, used the way the kernel's drivers use theirs:
 * the callbacks take it inside the page lock; the `deflate` operation takes it and only
 * trylocks pages under it (balloon_page_dequeue), freeing pages that are not isolated.
 */
const pooled = defineDriver<Pool>({
  name: 'pooled',
  setup: (host) => ({
    lock: new Mutex(host.kernel.rt, 'pages_lock'),
    pages: new Set(),
    isolated: new Set(),
  }),
  isolatePage(s, page) {
    if (!s.lock.trylock()) return false;
    s.pages.delete(page);
    s.isolated.add(page);
    s.lock.unlock();
    return true;
  },
  migratePage(s, dst, src, _mode, host) {
    if (!s.lock.trylock()) return -EAGAIN;
    host.movePage(dst, src);
    s.isolated.delete(src);
    s.pages.add(dst);
    s.lock.unlock();
    return MIGRATEPAGE_SUCCESS;
  },
  putbackPage(s, page) {
    if (s.lock.trylock()) {
      s.isolated.delete(page);
      s.pages.add(page);
      s.lock.unlock();
    } else {
      // Not reachable in this model (callbacks are atomic steps); kept simple.
      s.isolated.delete(page);
      s.pages.add(page);
    }
  },
  populate(s, host, nid, count) {
    for (let i = 0; i < count; i++) {
      const page = host.allocPage(nid, 0x500 + i);
      if (page !== -1) s.pages.add(page);
    }
  },
  operations: {
    *deflate(s, host, arg): KernelGen {
      for (let n = 0; n < arg; n++) {
        yield* s.lock.lock();
        for (const page of s.pages) {
          if (!host.kernel.locks.folioTrylock(page, 'balloon_page_dequeue')) continue;
          s.pages.delete(page);
          host.kernel.locks.folioUnlock(page);
          host.freePage(page);
          break;
        }
        s.lock.unlock();
        yield;
      }
    },
  },
});

describe('checkDriver', () => {
  it('passes a correct driver on every check, having really migrated its pages', async () => {
    const report = await checkDriver(plain);
    expect(report.verdict).toBe('pass');
    expect(report.checks.map((c) => [c.name, c.status])).toEqual(
      DRIVER_CHECK_NAMES.map((n) => [n, 'pass']),
    );
    expect(report.findings).toEqual([]);
    expect(report.calls.migrated).toBeGreaterThan(10);
    expect(report.calls.putbackPage).toBeGreaterThan(0); // the fault plans made some fail
    expect(report.plans.map((p) => p.name)).toEqual(defaultPlans().map((p) => p.name));
    expect(report.schedules).toBe(report.plans.reduce((n, p) => n + p.schedules, 0));
    expect(formatDriverReport(report)).toMatch(/^driver plain \(v6\.3\): PASS/);
  });

  it('passes a driver whose own lock is taken under the page lock and only trylocks pages under it', () => {
    const report = checkDriverSync(pooled);
    expect(report.findings.map((f) => `${f.check}: ${f.message}`)).toEqual([]);
    expect(report.verdict).toBe('pass');
    expect(report.calls.migrated).toBeGreaterThan(0);
  });

  it('passes a driver that refuses every isolation, and says that nothing migrated', () => {
    const report = checkDriverSync(
      defineDriver({ ...plain.spec, name: 'refuses', isolatePage: () => false }),
    );
    expect(report.verdict).toBe('pass');
    expect(report.calls.isolatePage).toBeGreaterThan(0);
    expect(report.calls.migrated).toBe(0);
    expect(formatDriverReport(report)).toContain('migrate_page 0 (0 succeeded)');
  });

  it('gives the same report for the same seed, and --thorough runs 25 times the schedules', () => {
    const a = checkDriverSync(noMove, { seed: 7 });
    const b = checkDriverSync(noMove, { seed: 7 });
    expect(a.findings.map((f) => f.replay)).toEqual(b.findings.map((f) => f.replay));
    const normal = defaultPlans().reduce((n, p) => n + p.schedules, 0);
    const thorough = defaultPlans(25).reduce((n, p) => n + p.schedules, 0);
    expect(thorough).toBe(normal * 25);
  });

  it('refuses what is not a driver, a bad seed, and tokens that are not its own, with typed errors', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error instanceof MmsimError ? error.code : String(error);
      }
      return 'no error';
    };
    expect(code(() => checkDriverSync({} as never))).toBe('INVALID_ARGUMENT');
    expect(code(() => checkDriverSync(plain, { seed: -1 }))).toBe('INVALID_ARGUMENT');
    expect(code(() => replayDriver(plain, 'garbage'))).toBe('INVALID_REPLAY_TOKEN');
    const token = checkDriverSync(noMove).findings[0]?.replay as string;
    expect(code(() => replayDriver(plain, token))).toBe('INVALID_REPLAY_TOKEN');
    const other = defaultPlans().map((p) => ({ ...p, name: `x-${p.name}` }));
    expect(code(() => replayDriver(noMove, token, { plans: other }))).toBe('INVALID_REPLAY_TOKEN');
  });
});

describe('checkDriver under the 2025 movable_ops protocol', () => {
  const mainline = defineVariant({
    name: 'movable-ops-2025',
    extends: 'v6.11',
    movableProtocol: 'page-type-2025',
  });
  /** Clears src's operations after moving it: what 6.3 asks, what 6.17 forbids. */
  const clearsSrc = defineDriver({
    ...plain.spec,
    name: 'clears-src',
    migratePage(_s, dst, src, _mode, host) {
      host.movePage(dst, src);
      clearPageMovable(host.kernel.mem, src);
      return MIGRATEPAGE_SUCCESS;
    },
  });

  /** Deflates by freeing whatever page it lists, isolated or not. */
  const deflate = {
    *deflate(_s: object, host: DriverHost, arg: number): KernelGen {
      for (let n = 0; n < arg * 2; n++) {
        const page = host.pages[0];
        if (page !== undefined) host.freePage(page);
        yield;
      }
    },
  };
  /** ... and migrates whatever it is handed: a released page too. */
  const freesIsolated = defineDriver({
    ...plain.spec,
    name: 'frees-isolated',
    operations: deflate,
  });
  /** ... and recognises a page it released, faking success as 6.17's zsmalloc does. */
  const recognisesReleased = defineDriver({
    ...plain.spec,
    name: 'recognises-released',
    operations: deflate,
    migratePage(_s, dst, src, _mode, host) {
      if (!host.pages.includes(src)) return MIGRATEPAGE_SUCCESS;
      host.movePage(dst, src);
      return MIGRATEPAGE_SUCCESS;
    },
  });

  it('fails a driver whose migrate_page uses a page it released while isolated, which 6.3 never hands it', () => {
    expect(checkDriverSync(freesIsolated).findings.map((f) => f.message)).toEqual([]);
    const report = checkDriverSync(freesIsolated, { variant: mainline });
    expect(report.checks.find((c) => c.name === 'no-use-after-putback')?.message).toMatch(
      /movePage\(0x[0-9a-f]+\) uses a page the driver no longer owns \(the driver gave it back with freePage\)/,
    );
  });

  it('passes a driver that frees isolated pages and recognises them in migrate_page (legal in both)', () => {
    expect(checkDriverSync(recognisesReleased).findings.map((f) => f.message)).toEqual([]);
    const report = checkDriverSync(recognisesReleased, { variant: mainline });
    expect(report.findings.map((f) => f.message)).toEqual([]);
    expect(report.calls.migrated).toBeGreaterThan(0);
  });

  it('passes a correct driver, whose src pages keep their operations', () => {
    const report = checkDriverSync(plain, { variant: mainline });
    expect(report.findings.map((f) => f.message)).toEqual([]);
    expect(report.variant).toBe('movable-ops-2025');
    expect(report.calls.migrated).toBeGreaterThan(10);
  });

  it('fails dst-movable-src-released for a driver that clears src, which 6.3 accepts', () => {
    expect(checkDriverSync(clearsSrc).verdict).toBe('pass');
    const report = checkDriverSync(clearsSrc, { variant: mainline });
    const row = report.checks.find((c) => c.name === 'dst-movable-src-released');
    expect(row?.message).toMatch(
      /cleared the movable operations of src 0x[0-9a-f]+; in the page-type-2025 protocol a page keeps them until it is freed/,
    );
    expect(
      replayDriver(clearsSrc, row?.replay as string, { variant: mainline }).finding?.check,
    ).toBe('dst-movable-src-released');
  });
});
