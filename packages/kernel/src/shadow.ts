import {
  type Folio,
  folioIndex,
  machineBuffer,
  type PhysicalMemory,
  pageContent,
} from '@mmsim/folio';
import {
  type AddressSpaceView,
  type MmView,
  PAGE_SIZE,
  PTRS_PER_PTE,
  type VirtualMemory,
  VM_SHARED,
} from '@mmsim/rmap';
import { MmsimError } from '@mmsim/runtime';
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
  /** Insertion order over both stores (see `ShadowMemory`). */
  seq: number;
}

/** The file places of one file id (`ShadowMemory`'s `#files`). */
interface FilePlaces {
  /** The name of the first file seen with the id: the places' keys are `name#id[index]`. */
  readonly name: string;
  readonly entries: Map<number, ShadowEntry>;
}

/** At most this many violations are kept (the first ones matter). */
const MAX_VIOLATIONS = 20;

/** Pages per chunk of a process's private words: one page table's worth. */
const CHUNK = PTRS_PER_PTE;

/**
 * The slot of page `vpn` in its chunk (`vpn` mod CHUNK, for CHUNK a power of two): the low
 * bits, as `pteIndexOfVpn` takes them. A user vpn is above 2^30, a double in V8, and `%` of
 * doubles is a call into the C library on every private-word access; `&` keeps the low 32
 * bits of any integer below 2^53 and so its low 9. For a negative vpn it is the slot that
 * `verifyAll`'s `idx * CHUNK + i` maps back to it (where `%` gave a negative index).
 */
function slotOf(vpn: number): number {
  return vpn & (CHUNK - 1);
}

/**
 * The private words of one process in one 2 MiB range: per page the value, the writer (an
 * index into the writer names, 0: nothing written there) and the insertion sequence number.
 */
interface UserChunk {
  readonly value: Float64Array;
  readonly writer: Int32Array;
  readonly seq: Float64Array;
  /** Pages of the chunk written. */
  used: number;
}

/** Bytes of a `UserChunk`'s buffer: `value` and `seq` (8 bytes a page), `writer` (4). */
const USER_CHUNK_BYTES = 20 * CHUNK;

/** A mismatch found by `verifyAll`, ordered by `seq`. */
interface Mismatch {
  readonly seq: number;
  readonly message: string;
}

/**
 * The shadow of user-visible memory: the last value written at each place, kept by the
 * actors that write (in the same atomic step as the store), checked by the actors that
 * read and, at the end of a run, against what every place holds. A mismatch is a lost or
 * misplaced write: the thing migration must never cause.
 *
 * Storage: a process's private words (page-aligned `user` places, nearly every place a
 * run writes) sit in typed arrays per mm and 2 MiB range, 20 bytes a page; file and
 * custom places in a map by key. Every place gets a sequence number when it is first
 * written (and again when it is forgotten and written anew), so that `verifyAll` reports
 * places in the order they were first written, whichever store holds them.
 */
export class ShadowMemory {
  readonly #mem: PhysicalMemory;
  readonly #vm: VirtualMemory;
  /**
   * Custom and unaligned user places, and file places of a file whose id another name
   * took first (see `#files`), by key.
   */
  readonly #entries = new Map<string, ShadowEntry>();
  /**
   * File places by file id, then page index: the places of key `name#id[index]` for the
   * first name seen with each id (a machine gives each file its own id, so in practice
   * every file place), without building the key. Kept when emptied, so that one key
   * always lives in one store.
   */
  readonly #files = new Map<number, FilePlaces>();
  /** File places held in `#files`. */
  #fileCount = 0;
  /** The file `#filePlaces` resolved last, and its places. */
  #lastFile: AddressSpaceView | null = null;
  #lastFilePlaces: Map<number, ShadowEntry> | null = null;
  /** Page-aligned private words, per mm, by virtual page number / CHUNK. */
  readonly #user = new Map<MmView, Map<number, UserChunk>>();
  /** Private words held in `#user`. */
  #userCount = 0;
  /** Writer names by index (index 0 unused), and their indices. */
  readonly #writers: string[] = [''];
  readonly #writerIds = new Map<string, number>();
  #seq = 0;
  readonly #violations: string[] = [];
  #checks = 0;
  /**
   * The chunk the last private-word access found, with its mm and chunk number (a run
   * writes and reads the same 2 MiB range over and over); reset whenever a chunk leaves
   * the store.
   */
  #lastMm: MmView | null = null;
  #lastIdx = -1;
  #lastChunk: UserChunk | null = null;
  /** The writer name `#writerId` resolved last, and its index. */
  #lastWriter = '';
  #lastWriterId = 0;

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
    return this.#entries.size + this.#fileCount + this.#userCount;
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
        return userKey(where.mm, where.addr);
      case 'file':
        return `${where.file.name}#${where.file.id}[${where.index}]`;
      case 'custom':
        return where.name;
    }
  }

  /** Records that `writer` stored `value` at `where` (call it in the step of the store). */
  wrote(where: ShadowLocation, value: number, writer: string): void {
    if (where.kind === 'user' && where.addr % PAGE_SIZE === 0) {
      this.#wroteUser(where.mm, where.addr / PAGE_SIZE, value, this.#writerId(writer));
      return;
    }
    if (where.kind === 'file') {
      this.#wroteFile(where.file, where.index, value, writer, where);
      return;
    }
    this.#wroteKeyed(where, value, writer);
  }

  /**
   * `wrote({ kind: 'file', file, index }, value, writer)` without building the location
   * (but for a place written the first time): the store of a write(2) or of a device, in
   * its step.
   */
  wroteFile(file: AddressSpaceView, index: number, value: number, writer: string): void {
    this.#wroteFile(file, index, value, writer, null);
  }

  /**
   * The places of `file` in `#files`, made when `create` is set (else undefined when it has
   * none); null when its id was taken by another name first (its places are in `#entries`).
   */
  #filePlaces(
    file: AddressSpaceView,
    create: boolean,
  ): Map<number, ShadowEntry> | null | undefined {
    if (file === this.#lastFile) return this.#lastFilePlaces;
    let places = this.#files.get(file.id);
    if (places === undefined) {
      if (!create) return undefined;
      places = { name: file.name, entries: new Map() };
      this.#files.set(file.id, places);
    }
    if (places.name !== file.name) return null;
    this.#lastFile = file;
    this.#lastFilePlaces = places.entries;
    return places.entries;
  }

  #wroteFile(
    file: AddressSpaceView,
    index: number,
    value: number,
    writer: string,
    where: ShadowLocation | null,
  ): void {
    const places = this.#filePlaces(file, true);
    if (places === null || places === undefined) {
      this.#wroteKeyed(where ?? { kind: 'file', file, index }, value, writer);
      return;
    }
    const entry = places.get(index);
    if (entry === undefined) {
      places.set(index, {
        where: where ?? { kind: 'file', file, index },
        value,
        writer,
        seq: this.#seq++,
      });
      this.#fileCount++;
    } else {
      entry.value = value;
      entry.writer = writer;
    }
  }

  /** `wrote` of a place kept by key in `#entries`. */
  #wroteKeyed(where: ShadowLocation, value: number, writer: string): void {
    const key = this.keyOf(where);
    const entry = this.#entries.get(key);
    if (entry === undefined) this.#entries.set(key, { where, value, writer, seq: this.#seq++ });
    else {
      entry.value = value;
      entry.writer = writer;
    }
  }

  /**
   * The index of writer name `writer` in this shadow (registered on first use), for
   * `wroteUserAccess`: a writer that stores often resolves its name once.
   */
  writerIndex(writer: string): number {
    return this.#writerId(writer);
  }

  #writerId(writer: string): number {
    if (writer === this.#lastWriter && this.#lastWriterId !== 0) return this.#lastWriterId;
    let id = this.#writerIds.get(writer);
    if (id === undefined) {
      id = this.#writers.length;
      this.#writers.push(writer);
      this.#writerIds.set(writer, id);
    }
    this.#lastWriter = writer;
    this.#lastWriterId = id;
    return id;
  }

  /** The chunk of page `vpn` of `mm`, or undefined when nothing was written in it. */
  #userChunk(mm: MmView, vpn: number): UserChunk | undefined {
    const idx = Math.floor(vpn / CHUNK);
    if (mm === this.#lastMm && idx === this.#lastIdx) return this.#lastChunk ?? undefined;
    const chunk = this.#user.get(mm)?.get(idx);
    if (chunk !== undefined) {
      this.#lastMm = mm;
      this.#lastIdx = idx;
      this.#lastChunk = chunk;
    }
    return chunk;
  }

  /** Forgets the cached chunk (one left the store). */
  #dropLastChunk(): void {
    this.#lastMm = null;
    this.#lastIdx = -1;
    this.#lastChunk = null;
  }

  #wroteUser(mm: MmView, vpn: number, value: number, writer: number): void {
    const cached = this.#userChunk(mm, vpn);
    if (cached !== undefined) {
      this.#store(cached, slotOf(vpn), value, writer);
      return;
    }
    let chunks = this.#user.get(mm);
    if (chunks === undefined) {
      chunks = new Map();
      this.#user.set(mm, chunks);
    }
    const idx = Math.floor(vpn / CHUNK);
    let chunk = chunks.get(idx);
    if (chunk === undefined) {
      chunk = this.#newUserChunk();
      chunks.set(idx, chunk);
    }
    this.#lastMm = mm;
    this.#lastIdx = idx;
    this.#lastChunk = chunk;
    this.#store(chunk, slotOf(vpn), value, writer);
  }

  /**
   * An empty chunk, its three arrays over one zeroed buffer of the machine
   * (`machineBuffer`: from its recycler when it has one, given back with the machine), not
   * three backing stores of their own: an explorer's set-up records a process's first
   * touches in every schedule.
   */
  #newUserChunk(): UserChunk {
    const buffer = machineBuffer(this.#mem, USER_CHUNK_BYTES);
    return {
      value: new Float64Array(buffer, 0, CHUNK),
      seq: new Float64Array(buffer, 8 * CHUNK, CHUNK),
      writer: new Int32Array(buffer, 16 * CHUNK, CHUNK),
      used: 0,
    };
  }

  #store(chunk: UserChunk, i: number, value: number, writer: number): void {
    if (chunk.writer[i] === 0) {
      chunk.seq[i] = this.#seq++;
      chunk.used++;
      this.#userCount++;
    }
    chunk.value[i] = value;
    chunk.writer[i] = writer;
  }

  /** Forgets the private word of page `vpn` of `mm`, if written. */
  #forgetUserPage(chunks: Map<number, UserChunk>, vpn: number): void {
    const idx = Math.floor(vpn / CHUNK);
    const chunk = chunks.get(idx);
    if (chunk === undefined) return;
    const i = slotOf(vpn);
    if (chunk.writer[i] === 0) return;
    chunk.writer[i] = 0;
    this.#userCount--;
    if (--chunk.used === 0) {
      chunks.delete(idx);
      if (chunk === this.#lastChunk) this.#dropLastChunk();
    }
  }

  /**
   * Forgets `where`: its owner gave the place back (a driver freed its page), so nothing is
   * expected there any more.
   */
  forget(where: ShadowLocation): void {
    if (where.kind === 'user' && where.addr % PAGE_SIZE === 0) {
      const chunks = this.#user.get(where.mm);
      if (chunks !== undefined) this.#forgetUserPage(chunks, where.addr / PAGE_SIZE);
      return;
    }
    if (where.kind === 'file') {
      const places = this.#filePlaces(where.file, false);
      if (places === undefined) return;
      if (places !== null) {
        if (places.delete(where.index)) this.#fileCount--;
        return;
      }
    }
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
    const chunks = this.#user.get(mm);
    if (chunks === undefined) return;
    for (const [idx, chunk] of chunks) {
      for (let i = 0; i < CHUNK; i++) {
        if (chunk.writer[i] === 0) continue;
        const addr = (idx * CHUNK + i) * PAGE_SIZE;
        if (addr >= start && addr < end) {
          chunk.writer[i] = 0;
          this.#userCount--;
          chunk.used--;
        }
      }
      if (chunk.used === 0) {
        chunks.delete(idx);
        if (chunk === this.#lastChunk) this.#dropLastChunk();
      }
    }
    if (chunks.size === 0) this.#user.delete(mm);
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
        moved.push({
          addr: w.addr - from + to,
          value: entry.value,
          writer: entry.writer,
          seq: entry.seq,
        });
      }
    }
    const chunks = this.#user.get(mm);
    if (chunks !== undefined) {
      for (const [idx, chunk] of chunks) {
        for (let i = 0; i < CHUNK; i++) {
          const writer = chunk.writer[i]!;
          if (writer === 0) continue;
          const addr = (idx * CHUNK + i) * PAGE_SIZE;
          if (addr < from || addr >= from + length) continue;
          moved.push({
            addr: addr - from + to,
            value: chunk.value[i]!,
            writer: this.#writers[writer]!,
            seq: chunk.seq[i]!,
          });
        }
      }
      for (const m of moved) {
        const old = m.addr - to + from;
        if (old % PAGE_SIZE === 0) this.#forgetUserPage(chunks, old / PAGE_SIZE);
      }
    }
    // Written anew in the order they were first written, as a map's iteration gives them.
    moved.sort((a, b) => a.seq - b.seq);
    for (const m of moved) this.wrote({ kind: 'user', mm, addr: m.addr }, m.value, m.writer);
  }

  /**
   * Checks a value `reader` just loaded from `where` (in the step of the load) against the
   * last value written there; places never written are not checked. Returns whether it
   * matched.
   */
  read(where: ShadowLocation, got: number, reader: string): boolean {
    this.#checks++;
    let value: number;
    let writer: string;
    if (where.kind === 'user' && where.addr % PAGE_SIZE === 0) {
      const vpn = where.addr / PAGE_SIZE;
      const chunk = this.#userChunk(where.mm, vpn);
      if (chunk === undefined) return true;
      const w = chunk.writer[slotOf(vpn)]!;
      if (w === 0) return true;
      value = chunk.value[slotOf(vpn)]!;
      writer = this.#writers[w]!;
    } else {
      const entry = this.#placeEntry(where);
      if (entry === undefined) return true;
      value = entry.value;
      writer = entry.writer;
    }
    if (value === got) return true;
    this.#violate(
      `${reader} read ${got} at ${this.keyOf(where)}, but the last value written there was ${value} (by ${writer}): a write was lost`,
    );
    return false;
  }

  /** The entry of a place kept in `#files` or `#entries`, or undefined. */
  #placeEntry(where: ShadowLocation): ShadowEntry | undefined {
    if (where.kind === 'file') {
      const places = this.#filePlaces(where.file, false);
      if (places === undefined) return undefined;
      if (places !== null) return places.get(where.index);
    }
    return this.#entries.get(this.keyOf(where));
  }

  /**
   * `read({ kind: 'file', file, index }, got, reader)` without building the location (but
   * for a mismatch's message): the check of a read(2), in its step.
   */
  readFile(file: AddressSpaceView, index: number, got: number, reader: string): boolean {
    const places = this.#filePlaces(file, false);
    if (places === null) return this.read({ kind: 'file', file, index }, got, reader);
    this.#checks++;
    const entry = places?.get(index);
    if (entry === undefined || entry.value === got) return true;
    this.#violate(
      `${reader} read ${got} at ${this.keyOf(entry.where)}, but the last value written there was ${entry.value} (by ${entry.writer}): a write was lost`,
    );
    return false;
  }

  /**
   * `wrote(userLocation(mm, addr), value, name)` without building the location, `writer`
   * being `writerIndex(name)`: the store of a user access, recorded in its step. A
   * process's private page goes straight to its typed-array chunk; a shared file mapping's
   * word goes to the file's place (`wroteFile`) found from the VMA looked up here.
   */
  wroteUserAccess(mm: MmView, addr: number, value: number, writer: number): void {
    const name = this.#writers[writer];
    if (writer < 1 || name === undefined) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `writer must be an index from writerIndex(), got ${String(writer)}`,
      );
    }
    const vma = mm.vmaLookup(addr);
    if (vma !== null && vma.file !== null && (vma.flags & VM_SHARED) !== 0) {
      // `userLocation`'s file place, from the VMA found here (no second lookup, no location).
      this.#wroteFile(vma.file, vma.linearPageIndex(addr), value, name, null);
      return;
    }
    this.#wroteUser(mm, Math.floor(addr / PAGE_SIZE), value, writer);
  }

  /**
   * `read(userLocation(mm, addr), got, reader)` without building the location (but for a
   * mismatch's message): the check of a user access's load, in its step. A shared file
   * mapping's word is the file's place (`readFile`), found from the VMA looked up here.
   */
  readUserAccess(mm: MmView, addr: number, got: number, reader: string): boolean {
    const vma = mm.vmaLookup(addr);
    if (vma !== null && vma.file !== null && (vma.flags & VM_SHARED) !== 0) {
      return this.readFile(vma.file, vma.linearPageIndex(addr), got, reader);
    }
    this.#checks++;
    const vpn = Math.floor(addr / PAGE_SIZE);
    const chunk = this.#userChunk(mm, vpn);
    if (chunk === undefined) return true;
    const w = chunk.writer[slotOf(vpn)]!;
    if (w === 0) return true;
    const value = chunk.value[slotOf(vpn)]!;
    if (value === got) return true;
    this.#violate(
      `${reader} read ${got} at ${userKey(mm, vpn * PAGE_SIZE)}, but the last value written there was ${value} (by ${this.#writers[w]!}): a write was lost`,
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
      case 'user':
        return this.#currentUser(where.mm, where.addr);
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

  #currentUser(mm: MmView, addr: number): number | null {
    if (!mm.alive) return null;
    // The pfn of a present entry (`lookupPte(mm, addr).pfn` when its kind is 'present'),
    // without building the decoded entry: `verifyAll` reads every private word this way.
    const pfn = this.#vm.presentPfnAt(mm, addr);
    return pfn >= 0 ? pageContent(this.#mem, pfn) : null;
  }

  /**
   * Compares every place with its last written value; returns the mismatches (also kept
   * in `violations`), the first `MAX_VIOLATIONS` in the order the places were first
   * written.
   */
  verifyAll(): string[] {
    const found: Mismatch[] = [];
    for (const [key, entry] of this.#entries) {
      const now = this.current(entry.where);
      if (now === entry.value) continue;
      found.push({ seq: entry.seq, message: mismatch(key, now, entry.value, entry.writer) });
    }
    for (const { entries } of this.#files.values()) {
      for (const entry of entries.values()) {
        const now = this.current(entry.where);
        if (now === entry.value) continue;
        const key = this.keyOf(entry.where);
        found.push({ seq: entry.seq, message: mismatch(key, now, entry.value, entry.writer) });
      }
    }
    for (const [mm, chunks] of this.#user) {
      for (const [idx, chunk] of chunks) {
        for (let i = 0; i < CHUNK; i++) {
          const w = chunk.writer[i]!;
          if (w === 0) continue;
          const addr = (idx * CHUNK + i) * PAGE_SIZE;
          const now = this.#currentUser(mm, addr);
          const value = chunk.value[i]!;
          if (now === value) continue;
          found.push({
            seq: chunk.seq[i]!,
            message: mismatch(userKey(mm, addr), now, value, this.#writers[w]!),
          });
        }
      }
    }
    found.sort((a, b) => a.seq - b.seq);
    const out: string[] = [];
    for (let i = 0; i < found.length && i < MAX_VIOLATIONS; i++) out.push(found[i]!.message);
    for (const m of out) this.#violate(m);
    return out;
  }

  #violate(message: string): void {
    if (this.#violations.length < MAX_VIOLATIONS) this.#violations.push(message);
  }
}

/** The key of a private word: `name#id 0xaddr`. */
function userKey(mm: MmView, addr: number): string {
  return `${mm.name}#${mm.id} 0x${addr.toString(16)}`;
}

/** The message of a place that does not hold its last written value. */
function mismatch(key: string, now: number | null, value: number, writer: string): string {
  return now === null
    ? `${key} was last written with ${value} (by ${writer}) but nothing maps it now`
    : `${key} holds ${now}, but the last value written there was ${value} (by ${writer}): a write was lost`;
}

/** A private word on its way to a new address (`moveUser`). */
interface ShadowEntryLike {
  readonly addr: number;
  readonly value: number;
  readonly writer: string;
  readonly seq: number;
}
