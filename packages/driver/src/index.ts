/**
 * @mmsim/driver: the driver SDK. Write a driver of non-LRU movable pages with
 * `defineDriver` against the `movable_operations` protocol of the machine's variant; the
 * SDK keeps its pages, references and contents known to the model's checks. Two real
 * drivers come with it: `virtioBalloon` and `zsmalloc`.
 */
export * from './driver.js';
export {
  BALLOON_WORD_BASE,
  balloonPageEnqueue,
  type VirtioBalloonState,
  virtioBalloon,
} from './drivers/virtio-balloon.js';
export {
  ZS_OBJS_PER_PAGE,
  ZS_PAGES_PER_ZSPAGE,
  type ZsmallocState,
  type ZsObjLocation,
  type Zspage,
  zsmalloc,
} from './drivers/zsmalloc.js';

import type { DriverDefinition } from './driver.js';
import { virtioBalloon as balloonDriver } from './drivers/virtio-balloon.js';
import { zsmalloc as zsmallocDriver } from './drivers/zsmalloc.js';

/** The real drivers by the names scenario files use. */
export const BUILTIN_DRIVERS: Readonly<
  Record<'virtio-balloon' | 'zsmalloc', DriverDefinition<unknown>>
> = Object.freeze({
  'virtio-balloon': balloonDriver as DriverDefinition<unknown>,
  zsmalloc: zsmallocDriver as DriverDefinition<unknown>,
});
