import { defineDriver } from '@mmsim/driver';
import { MIGRATEPAGE_SUCCESS } from '@mmsim/migrate';
import { describe, expect, it } from 'vitest';
import { checkDriverSync, formatDriverReport } from '../src/index.js';

const good = defineDriver({
  name: 'good',
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

describe('smoke', () => {
  it('good passes', () => {
    const r = checkDriverSync(good as never);
    console.log(formatDriverReport(r));
    expect(r.verdict).toBe('pass');
  });
});
