import { EAGAIN, errnoName } from '@mmsim/runtime';
import { expect, test } from 'vitest';

test('resolves workspace source', () => {
  expect(errnoName(-EAGAIN)).toBe('-EAGAIN');
});
