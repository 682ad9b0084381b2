import { MAX_NUMNODES } from '@mmsim/folio';
import { type Nodemask, nodemaskNone, PAGE_SIZE, TASK_SIZE, VM_READ } from '@mmsim/rmap';
import { EFAULT, EINVAL, type KernelGen, MmsimError } from '@mmsim/runtime';
import type { Sys } from './sys.js';

/*
 * Node-mask arguments of mbind(2), set_mempolicy(2), get_mempolicy(2) and migrate_pages(2),
 * in the C form `(maxnode, mask)`: `mask` points at an array of `unsigned long` words, bit
 * `n` of the array is node `n`, and `maxnode` counts the bits the kernel reads (it reads
 * `maxnode - 1` of them: `get_nodes` in mm/mempolicy.c, 6.3).
 *
 * In TypeScript the pointer is one of:
 * - `null`: the NULL pointer (no nodes);
 * - an array of words, as the user's memory holds them: each a bigint (a whole 64-bit
 *   `unsigned long`) or a number (a non-negative safe integer: bits 0-52);
 * - a number: a user address in the caller's memory. The model keeps one word per page,
 *   so word 0 is the word of that page and further words read as 0; every word must be
 *   readable (a mapped, readable page), else the call fails with EFAULT, as copy_from_user.
 */
export type NodemaskArg = readonly (number | bigint)[] | number | null;

/** `BITS_PER_LONG`. */
export const BITS_PER_LONG = 64;

/** The words of a mask holding `nodes` (what libnuma's bitmask hands the kernel). */
export function nodemaskWords(nodes: readonly number[], maxnode = MAX_NUMNODES): bigint[] {
  const words = new Array<bigint>(Math.max(1, Math.ceil(maxnode / BITS_PER_LONG))).fill(0n);
  for (const n of nodes) {
    if (!Number.isInteger(n) || n < 0 || n >= words.length * BITS_PER_LONG) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `node ${String(n)} does not fit a mask of ${words.length} words`,
      );
    }
    words[Math.floor(n / BITS_PER_LONG)]! |= 1n << BigInt(n % BITS_PER_LONG);
  }
  return words;
}

/** The node ids set in mask words, ascending. */
export function nodesOfWords(words: readonly bigint[]): number[] {
  const out: number[] = [];
  words.forEach((w, i) => {
    for (let b = 0; b < BITS_PER_LONG; b++)
      if (((w >> BigInt(b)) & 1n) !== 0n) out.push(i * 64 + b);
  });
  return out;
}

function checkMaxnode(maxnode: unknown): void {
  if (!Number.isInteger(maxnode)) {
    throw new MmsimError('INVALID_ARGUMENT', `maxnode must be an integer, got ${String(maxnode)}`);
  }
}

/** `maxnode` as the kernel's `unsigned long`: -1 is ULONG_MAX. */
function unsignedLong(v: number): bigint {
  return v < 0 ? (1n << 64n) + BigInt(v) : BigInt(v);
}

/**
 * Reads word `i` of a mask (`copy_from_user` of one `unsigned long`): a bigint, or
 * -EFAULT when the pointer or the page is not readable.
 */
function* readWord(
  sys: Sys,
  mask: Exclude<NodemaskArg, null>,
  i: number,
): KernelGen<bigint | number> {
  if (typeof mask !== 'number') {
    if (!Array.isArray(mask)) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        'a node mask must be null, an array of words or an address',
      );
    }
    const w = mask[i];
    if (w === undefined) return -EFAULT; // past the end of the caller's array
    if (typeof w === 'bigint') return BigInt.asUintN(64, w);
    if (!Number.isSafeInteger(w) || w < 0) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `mask word ${i} must be a bigint or a non-negative safe integer, got ${String(w)}`,
      );
    }
    return BigInt(w);
  }
  const addr = mask + i * 8;
  if (!Number.isInteger(mask) || mask < 0 || addr >= TASK_SIZE) return -EFAULT;
  const k = sys.userland.kernel;
  const vma = k.vm.vmaLookup(sys.mm, addr);
  if (vma === null || (vma.flags & VM_READ) === 0) return -EFAULT;
  const value = yield* k.vm.userRead(sys.mm, addr);
  if (i > 0) return 0n;
  return BigInt.asUintN(64, BigInt(Math.trunc(value)));
}

/**
 * `get_nodes(nodes, nmask, maxnode)` (mm/mempolicy.c, 6.3): `maxnode - 1` bits of the
 * user's mask. No pointer, or maxnode 1, is the empty mask; more than one page of bits is
 * -EINVAL; words beyond MAX_NUMNODES are read from the last one down and must be zero
 * (-EINVAL otherwise); an unreadable word is -EFAULT. Returns the mask or -errno.
 */
export function* getNodes(
  sys: Sys,
  mask: NodemaskArg,
  maxnode: number,
): KernelGen<Nodemask | number> {
  checkMaxnode(maxnode);
  const nodes = nodemaskNone();
  let bits = unsignedLong(maxnode) - 1n;
  if (bits < 0n) bits = (1n << 64n) - 1n; // --maxnode of 0 wraps round
  if (bits === 0n || mask === null) return nodes;
  if (bits > BigInt(PAGE_SIZE * 8)) return -EINVAL;
  let n = Number(bits);
  while (n > MAX_NUMNODES) {
    const take = Math.min(n, BITS_PER_LONG);
    const word = yield* readWord(sys, mask, Math.floor((n - 1) / BITS_PER_LONG));
    if (typeof word === 'number') return word;
    let t = take % BITS_PER_LONG === 0 ? word : word & ((1n << BigInt(take)) - 1n);
    if (n - take >= MAX_NUMNODES) n -= take;
    else {
      n = MAX_NUMNODES;
      // The bits below MAX_NUMNODES in this word are kept for get_bitmap below.
      t &= ~((1n << BigInt(MAX_NUMNODES % BITS_PER_LONG)) - 1n) & ((1n << 64n) - 1n);
    }
    if (t !== 0n) return -EINVAL;
  }
  // get_bitmap: BITS_TO_LONGS(n) words, the bits at n and above cleared.
  const words = Math.ceil(n / BITS_PER_LONG);
  for (let i = 0; i < words; i++) {
    const word = yield* readWord(sys, mask, i);
    if (typeof word === 'number') return word;
    for (let b = 0; b < BITS_PER_LONG; b++) {
      const node = i * BITS_PER_LONG + b;
      if (node >= n) break;
      if (((word >> BigInt(b)) & 1n) !== 0n) nodes[node] = 1;
    }
  }
  return nodes;
}

/**
 * `copy_nodes_to_user(mask, maxnode, nodes)` (mm/mempolicy.c, 6.3): `ALIGN(maxnode - 1,
 * 64) / 8` bytes of the mask are written: past the machine's `nr_node_ids` they are zero
 * (more than a page is -EINVAL). The model writes into the caller's word array, which it
 * sizes; returns 0 or -EINVAL.
 */
export function copyNodesToUser(out: bigint[], maxnode: number, nodes: Nodemask): number {
  const copyBytes = Math.ceil((maxnode - 1) / 64) * 8;
  if (copyBytes > PAGE_SIZE) return -EINVAL;
  const words = copyBytes / 8;
  out.length = 0;
  for (let i = 0; i < words; i++) {
    let w = 0n;
    for (let b = 0; b < BITS_PER_LONG; b++) {
      const node = i * BITS_PER_LONG + b;
      if (node < nodes.length && nodes[node] !== 0) w |= 1n << BigInt(b);
    }
    out.push(w);
  }
  return 0;
}
