import { virtioBalloon, zsmalloc } from '@mmsim/driver';
import { defineVariant } from '@mmsim/migrate';
import { describe, expect, it } from 'vitest';
import { checkDriverSync, DRIVER_CHECK_NAMES } from '../src/index.js';

const mainline = defineVariant({
  name: 'movable-ops-2025',
  extends: 'v6.11',
  movableProtocol: 'page-type-2025',
});

/** The SDK's real drivers, modelled from their kernel sources, must pass the kit. */
describe.each([
  ['virtio-balloon', virtioBalloon],
  ['zsmalloc', zsmalloc],
] as const)('the kit on %s', (name, driver) => {
  it.each([
    ['v6.3', 'v6.3' as const],
    ['page-type-2025', mainline],
    ['v6.17', 'v6.17' as const],
  ])('passes every check in %s, its pages migrated and its locks watched', (_label, variant) => {
    const report = checkDriverSync(driver as never, { variant });
    expect(report.findings.map((f) => `${f.check}: ${f.message}`)).toEqual([]);
    expect(report.driver).toBe(name);
    expect(report.checks.map((c) => c.status)).toEqual(DRIVER_CHECK_NAMES.map(() => 'pass'));
    expect(report.calls.migrated).toBeGreaterThan(50);
    expect(report.calls.putbackPage).toBeGreaterThan(0);
    expect(report.driverLocks.length).toBeGreaterThan(0);
  });
});
