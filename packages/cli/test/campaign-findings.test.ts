import { describe, expect, test } from 'vitest';
import { EXIT_OK } from '../src/index.js';
import { mmsim } from './support/mmsim.js';

/**
 * The findings of the issue-17 campaign, replayed from the tokens it printed: each must now
 * run clean, as the kernel behaves (the fix is in the model or in the scenario's check, see
 * each test).
 */
describe('campaign findings replay clean', () => {
  test('ksm-migrate @ v6.3, an allocation fault after an undone unmap: the deferred flush migrate_pages_batch leaves pending is legal', () => {
    // The async batch of migrate_pages_sync unmaps a KSM folio partly (TTU_BATCH_FLUSH
    // defers the flush), undoes it (-EAGAIN); the next folio gets -ENOMEM with nothing on
    // unmap_folios, so 6.3 goes to `out` without try_to_unmap_flush().
    const token =
      'mmsim1.1gkax6a.eyJtbXNpbS1leHBsb3JlIjoyLCJ0YXJnZXQiOiJrc20tbWlncmF0ZUB2Ni4zIiwiaWRlbnRpdHkiOnsidmFyaWFudCI6eyJuYW1lIjoidjYuMyIsImNvbnRlbnRIYXNoIjoiMjc2MjA5MGZlN2NhMmJiMDQ5Mzc5ZjI2NGIxZDY3YjQ4YzVlZjEyMjBiYWMyOTI3ZDNjMzI2M2FlODQ1NzY0YyJ9LCJmaWxlIjpudWxsfSwibWF4U3RlcHMiOjEwMDAwMCwiZmF1bHRzIjp7Im1pZ3JhdGUuYWxsb2NfbWlncmF0aW9uX3RhcmdldCI6eyJwcm9iYWJpbGl0eSI6MC4wMn0sIm1pZ3JhdGUuY29weV9vZmZsb2FkIjp7InByb2JhYmlsaXR5IjowLjAyfX19.BAkCAgQFAwECBgMJ';
    const r = mmsim(['replay', token, '--json']);
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as {
      status: string;
      finding: unknown;
      vmstat: Record<string, number>;
    };
    expect(out.status).toBe('completed');
    expect(out.finding).toBeNull();
    expect(out.vmstat.pgmigrate_fail).toBeGreaterThan(0); // the -ENOMEM path was taken
    expect(r.code).toBe(EXIT_OK);
  }, 60_000);
});
