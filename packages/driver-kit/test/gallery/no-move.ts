import { defineDriver } from '@mmsim/driver';
import { MIGRATEPAGE_SUCCESS } from '@mmsim/migrate';
import { base } from './shared.js';

/** Returns MIGRATEPAGE_SUCCESS without moving anything. */
export default defineDriver({
  ...base('no-move'),
  migratePage: () => MIGRATEPAGE_SUCCESS,
});
