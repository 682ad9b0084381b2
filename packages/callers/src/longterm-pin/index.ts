export {
  type LongtermPinOptions,
  type LongtermPinResult,
  longtermPin,
  longtermPinResult,
} from './actors.js';
export {
  checkAndMigrateMovablePages,
  collectLongtermUnpinnablePages,
  FOLL_LONGTERM,
  FOLL_WRITE,
  LONGTERM_PIN_RETRY_BACKOFF_NS,
  type LongtermPinStats,
  longtermPinStats,
  migrateLongtermUnpinnablePages,
  pinUserPages,
  unpinUserPages,
} from './gup-longterm.js';
export {
  IB_ACCESS_LOCAL_WRITE,
  IB_ACCESS_MW_BIND,
  IB_ACCESS_REMOTE_ATOMIC,
  IB_ACCESS_REMOTE_READ,
  IB_ACCESS_REMOTE_WRITE,
  type IbUmem,
  ibAccessWritable,
  ibUmemGet,
  ibUmemRelease,
} from './ib-umem.js';
