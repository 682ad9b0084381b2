/**
 * @mmsim/driver: the driver SDK. Write a driver of non-LRU movable pages with
 * `defineDriver` against the `movable_operations` protocol of the machine's variant; the
 * SDK keeps its pages, references and contents known to the model's checks.
 */
export * from './driver.js';
