import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type RecordedRun, recordScheduleTokens } from './schedule-tokens.js';

const reference = JSON.parse(
  readFileSync(new URL('./fixtures/schedule-tokens.json', import.meta.url), 'utf8'),
) as RecordedRun[];

describe('schedules are those of the reference model (tokens recorded on main)', () => {
  it('every historic scenario, buggy and fixed, gives the same replay token, status and findings per seed', () => {
    const now = recordScheduleTokens();
    expect(now.map((r) => r.key)).toEqual(reference.map((r) => r.key));
    for (let i = 0; i < now.length; i++) expect(now[i]).toEqual(reference[i]);
  }, 600_000);
});
