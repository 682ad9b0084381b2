import { type Folio, folioIndex, type PhysicalMemory, pageContent } from '@mmsim/folio';
import {
  type AddressSpaceView,
  type MmView,
  PAGE_SIZE,
  PTRS_PER_PTE,
  type VirtualMemory,
  VM_SHARED,
} from '@mmsim/rmap';
import { pageCacheLookup } from './page-cache.js';

/**
 * Where a word of memory lives: a process's private page at an address, a page of a
 * file (shared mappings and read(2) / write(2) reach the same page), or anything else an
 * actor can read back (a driver's page).
 */
export type ShadowLocation =
  | { readonly kind: 'user'; readonly mm: MmView; readonly addr: number }
  | { readonly kind: 'file'; readonly file: AddressSpaceView; readonly index: number }
  | { readonly kind: 'custom'; readonly name: string; readonly read: () => number | null };

interface ShadowEntry {
  readonly where: ShadowLocation;
  value: number;
  writer: string;
}

/** At most this many violations are kept (the first ones matter). */
const MAX_VIOLATIONS = 20;

/**
 * The shadow of user-visible memory: the last value written at each place, kept by the
 * actors that write (in the same atomic step as the store), checked by the actors that
 * read and, at the end of a run, against what every place holds. A mismatch is a lost or
 * misplaced write: the thing migration must never cause.
 */
export class ShadowMemory {
  readonly #mem: PhysicalMemory;
  readonly #vm: VirtualMemory;
  readonly #entries = new Map<string, ShadowEntry>();
  readonly #violations: string[] = [];
  #checks = 0;

  constructor(mem: PhysicalMemory, vm: VirtualMemory) {
    this.#mem = mem;
    this.#vm = vm;
  }

  /** Mismatches seen by readers so far (and by `verifyAll`), oldest first. */
  get violations(): readonly string[] {
    return this.#violations;
  }

  /** Places written so far. */
  get size(): number {
    return this.#entries.size;
  }

  /** Reads checked so far. */
  get readsChecked(): number {
    return this.#checks;
  }

  /**
   * Where a user access to `addr` of `mm` lands: a shared file mapping is the file's page
   * (so that other mappings and read(2) agree), anything else the process's own page.
   */
  userLocation(mm: MmView, addr: number): ShadowLocation {
    const vma = mm.vmaLookup(addr);
    if (vma !== null && vma.file !== null && (vma.flags & VM_SHARED) !== 0) {
      return { kind: 'file', file: vma.file, index: vma.linearPageIndex(addr) };
    }
    return { kind: 'user', mm, addr: addr - (addr % PAGE_SIZE) };
  }

  /** The key of a location. */
  keyOf(where: ShadowLocation): string {
    switch (where.kind) {
      case 'user':
        return `${where.mm.name}#${where.mm.id} 0x${where.addr.toString(16)}`;
      case 'file':
        return `${where.file.name}#${where.file.id}[${where.index}]`;
      case 'custom':
        return where.name;
    }
  }

  /** Records that `writer` stored `value` at `where` (call it in the step of the store). */
  wrote(where: ShadowLocation, value: number, writer: string): void {
    const key = this.keyOf(where);
    const entry = this.#entries.get(key);
    if (entry === undefined) this.#entries.set(key, { where, value, writer });
    else {
      entry.value = value;
      entry.writer = writer;
    }
  }

  /**
   * Forgets `where`: its owner gave the place back (a driver freed its page), so nothing is
   * expected there any more.
   */
  forget(where: ShadowLocation): void {
    this.#entries.delete(this.keyOf(where));
  }

  /**
   * Forgets the private words of `mm` in [start, end) (default its whole address space):
   * `munmap` or the process's exit gave them back, so nothing is expected there any more.
   * Words of shared file mappings stay (they live in the file).
   */
  forgetUser(mm: MmView, start = 0, end = Number.POSITIVE_INFINITY): void {
    for (const [key, entry] of this.#entries) {
      const w = entry.where;
      if (w.kind === 'user' && w.mm === mm && w.addr >= start && w.addr < end) {
        this.#entries.delete(key);
      }
    }
  }

  /**
   * Moves the private words of `mm` in [from, from + length) to start at `to`: `mremap`
   * moved the mapping and its pages, so the values written there are now expected at the
   * new addresses.
   */
  moveUser(mm: MmView, from: number, length: number, to: number): void {
    const moved: ShadowEntryLike[] = [];
    for (const [key, entry] of this.#entries) {
      const w = entry.where;
      if (w.kind === 'user' && w.mm === mm && w.addr >= from && w.addr < from + length) {
        this.#entries.delete(key);
        moved.push({ addr: w.addr - from + to, value: entry.value, writer: entry.writer });
      }
    }
    for (const m of moved) this.wrote({ kind: 'user', mm, addr: m.addr }, m.value, m.writer);
  }

  /**
   * Checks a value `reader` just loaded from `where` (in the step of the load) against the
   * last value written there; places never written are not checked. Returns whether it
   * matched.
   */
  read(where: ShadowLocation, got: number, reader: string): boolean {
    this.#checks++;
    const entry = this.#entries.get(this.keyOf(where));
    if (entry === undefined || entry.value === got) return true;
    this.#violate(
      `${reader} read ${got} at ${this.keyOf(where)}, but the last value written there was ${entry.value} (by ${entry.writer}): a write was lost`,
    );
    return false;
  }

  /**
   * What `where` holds now, read without a task (for end checks): the page-table entry's
   * frame, or the page cache's folio (the file's "disk" word when it is not cached). Null
   * when nothing present maps a user address.
   */
  current(where: ShadowLocation): number | null {
    switch (where.kind) {
      case 'user': {
        if (!where.mm.alive) return null;
        const pte = this.#vm.lookupPte(where.mm, where.addr);
        return pte.kind === 'present' ? pageContent(this.#mem, pte.pfn) : null;
      }
      case 'file': {
        if (where.file.hugetlb !== null) {
          // A hugetlbfs file caches 2 MiB folios at huge-page indices (6.3), and has no
          // backing store: a page never cached reads as zeroes.
          const huge = where.file.lookup(Math.floor(where.index / PTRS_PER_PTE));
          if (huge === undefined) return 0;
          return pageContent(this.#mem, huge + (where.index % PTRS_PER_PTE));
        }
        const folio: Folio | undefined = pageCacheLookup(this.#mem, where.file, where.index);
        if (folio === undefined) return where.file.backing.get(where.index) ?? 0;
        return pageContent(this.#mem, folio + (where.index - folioIndex(this.#mem, folio)));
      }
      case 'custom':
        return where.read();
    }
  }

  /**
   * Compares every place with its last written value; returns the mismatches (also kept
   * in `violations`).
   */
  verifyAll(): string[] {
    const out: string[] = [];
    for (const [key, entry] of this.#entries) {
      const now = this.current(entry.where);
      if (now === entry.value) continue;
      const message =
        now === null
          ? `${key} was last written with ${entry.value} (by ${entry.writer}) but nothing maps it now`
          : `${key} holds ${now}, but the last value written there was ${entry.value} (by ${entry.writer}): a write was lost`;
      out.push(message);
      if (out.length >= MAX_VIOLATIONS) break;
    }
    for (const m of out) this.#violate(m);
    return out;
  }

  #violate(message: string): void {
    if (this.#violations.length < MAX_VIOLATIONS) this.#violations.push(message);
  }
}

/** A private word on its way to a new address (`moveUser`). */
interface ShadowEntryLike {
  readonly addr: number;
  readonly value: number;
  readonly writer: string;
}
