import {
  type AttachedDriver,
  balloonPageEnqueue,
  type VirtioBalloonState,
  virtioBalloon,
} from '@mmsim/driver';
import type { Folio } from '@mmsim/folio';
import type { Kernel, ShadowLocation } from '@mmsim/kernel';
import type { MovableOperations } from '@mmsim/migrate';

/**
 * A balloon's non-LRU movable pages, now the SDK's virtio-balloon driver (`virtioBalloon`
 * of `@mmsim/driver`: `balloon_page_isolate` / `virtballoon_migratepage` /
 * `balloon_page_putback` under `pages_lock` and `balloon_lock`, mm/balloon_compaction.c and
 * drivers/virtio/virtio_balloon.c, 6.3), kept under its old name and methods for the
 * scenarios that use it. New code attaches `virtioBalloon` itself, which also gives the
 * inflate and deflate operations as actors.
 */
export class Balloon {
  readonly name: string;
  /** The attached virtio-balloon driver. */
  readonly driver: AttachedDriver<VirtioBalloonState>;

  constructor(k: Kernel, name = 'balloon') {
    this.name = name;
    this.driver = virtioBalloon.attach(k, { name });
  }

  /** The operations migration calls. */
  get mops(): MovableOperations {
    return this.driver.mops;
  }

  /** Inflates by one page on node `nid` holding `word`; returns its slot (-1 without memory). */
  inflate(nid: number, word: number): number {
    const before = this.driver.state.stats.inflated;
    const page = balloonPageEnqueue(this.driver.state, this.driver.host, nid, word);
    return page < 0 ? -1 : before;
  }

  /** The frames of the balloon's pages now. */
  get pages(): readonly Folio[] {
    return this.driver.host.pages;
  }

  /** The shadow location of a slot: the word of whatever frame holds it now. */
  location(slot: number): ShadowLocation {
    return this.driver.location(slot);
  }
}
