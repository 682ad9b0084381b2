import {
  type Folio,
  folioAlloc,
  folioCopyContents,
  folioGet,
  folioPut,
  pageContent,
  setPageContent,
} from '@mmsim/folio';
import type { Kernel } from '@mmsim/kernel';
import {
  clearPageMovable,
  MIGRATEPAGE_SUCCESS,
  type MovableOperations,
  setPageMovable,
} from '@mmsim/migrate';
import { MmsimError } from '@mmsim/runtime';

/**
 * A balloon driver's non-LRU movable pages (`balloon_page_enqueue`, `balloon_page_migrate`
 * / `virtballoon_migratepage`, mm/balloon_compaction.c and drivers/virtio/virtio_balloon.c,
 * 6.3): pages the driver owns (one driver reference each) and that migration moves through
 * its `movable_operations`. Each page stands for a slot whose word the shadow memory
 * tracks, so a migration that lost the copy is caught like a lost user write.
 */
export class Balloon {
  readonly name: string;
  readonly mops: MovableOperations;
  /** The frame of each slot. */
  readonly #slots: Folio[] = [];
  readonly #slotOf = new Map<Folio, number>();
  readonly #k: Kernel;

  constructor(k: Kernel, name = 'balloon') {
    this.#k = k;
    this.name = name;
    const self = this;
    this.mops = {
      name,
      isolatePage: () => true,
      migratePage(dst, src) {
        const mem = self.#k.mem;
        const slot = self.#slotOf.get(src);
        if (slot === undefined) {
          throw new MmsimError('CONTRACT_VIOLATION', `${name}: folio ${src} is not a balloon page`);
        }
        folioCopyContents(mem, dst, src);
        folioGet(mem, dst); // the balloon's reference on the new page
        setPageMovable(mem, dst, self.mops);
        self.#slotOf.delete(src);
        self.#slotOf.set(dst, slot);
        self.#slots[slot] = dst;
        clearPageMovable(mem, src);
        folioPut(mem, src); // and off the old one
        return MIGRATEPAGE_SUCCESS;
      },
      putbackPage: () => {},
    };
    k.addReferenceHolder({ name, refs: (folio) => (this.#slotOf.has(folio) ? 1 : 0) });
  }

  /** Inflates by one page on node `nid` holding `word`; returns its slot (-1 without memory). */
  inflate(nid: number, word: number): number {
    const mem = this.#k.mem;
    const folio = folioAlloc(mem, 0, nid);
    if (folio < 0) return -1;
    setPageContent(mem, folio, word);
    setPageMovable(mem, folio, this.mops);
    const slot = this.#slots.length;
    this.#slots.push(folio);
    this.#slotOf.set(folio, slot);
    this.#k.shadow.wrote(this.location(slot), word, this.name);
    return slot;
  }

  /** The frames of the balloon's pages now. */
  get pages(): readonly Folio[] {
    return [...this.#slots];
  }

  /** The shadow location of a slot: the word of whatever frame holds it now. */
  location(slot: number) {
    return {
      kind: 'custom' as const,
      name: `${this.name}[${slot}]`,
      read: () => {
        const folio = this.#slots[slot];
        return folio === undefined ? null : pageContent(this.#k.mem, folio);
      },
    };
  }
}
