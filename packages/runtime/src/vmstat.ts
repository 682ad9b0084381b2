import { checkInt, MmsimError } from './errors.js';

/**
 * Per-node state items (gauges), named and ordered as /proc/vmstat prints them in 6.3
 * (zone items first, then node_stat_item). Only the ones the model maintains are listed.
 */
export const NODE_STAT_NAMES = [
  'nr_free_pages',
  'nr_mlock',
  'nr_inactive_anon',
  'nr_active_anon',
  'nr_inactive_file',
  'nr_active_file',
  'nr_unevictable',
  'nr_isolated_anon',
  'nr_isolated_file',
  'nr_anon_pages',
  'nr_mapped',
  'nr_file_pages',
  'nr_dirty',
  'nr_writeback',
  'nr_shmem',
  'nr_shmem_hugepages',
  'nr_file_hugepages',
  'nr_anon_transparent_hugepages',
  'nr_foll_pin_acquired',
  'nr_foll_pin_released',
  'pgpromote_success',
  'pgpromote_candidate',
] as const;

/** The node items; `VmStat`'s gauge bits need fewer than 32. */
const NODE_ITEMS = NODE_STAT_NAMES.length;

/** Global event counters (enum vm_event_item), in /proc/vmstat order. */
export const VM_EVENT_NAMES = [
  'pgactivate',
  'pgdeactivate',
  'pgfault',
  'pgmajfault',
  'pgdemote_kswapd',
  'pgdemote_direct',
  'numa_pte_updates',
  'numa_huge_pte_updates',
  'numa_hint_faults',
  'numa_hint_faults_local',
  'numa_pages_migrated',
  'pgmigrate_success',
  'pgmigrate_fail',
  'thp_migration_success',
  'thp_migration_fail',
  'thp_migration_split',
  'compact_migrate_scanned',
  'compact_free_scanned',
  'compact_isolated',
  'compact_stall',
  'compact_fail',
  'compact_success',
  'compact_daemon_wake',
  'compact_daemon_migrate_scanned',
  'compact_daemon_free_scanned',
  'cma_alloc_success',
  'cma_alloc_fail',
  'unevictable_pgs_culled',
  'unevictable_pgs_scanned',
  'unevictable_pgs_rescued',
  'unevictable_pgs_mlocked',
  'unevictable_pgs_munlocked',
  'unevictable_pgs_cleared',
  'unevictable_pgs_stranded',
  'thp_file_alloc',
  'thp_file_fallback',
  'thp_file_mapped',
  'thp_split_page',
  'thp_split_page_failed',
  'nr_tlb_remote_flush',
  'nr_tlb_remote_flush_received',
  'nr_tlb_local_flush_all',
  'nr_tlb_local_flush_one',
] as const;

export type NodeStatName = (typeof NODE_STAT_NAMES)[number];
export type VmEventName = (typeof VM_EVENT_NAMES)[number];

function indexOf<N extends string>(
  names: readonly N[],
): { readonly [K in N as Uppercase<K>]: number } {
  return Object.freeze(Object.fromEntries(names.map((n, i) => [n.toUpperCase(), i]))) as {
    readonly [K in N as Uppercase<K>]: number;
  };
}

/** Item ids by their kernel enum names: `NodeStat.NR_ISOLATED_ANON`. */
export const NodeStat = indexOf(NODE_STAT_NAMES);
/** Event ids by their kernel enum names: `VmEvent.PGMIGRATE_SUCCESS`. */
export const VmEvent = indexOf(VM_EVENT_NAMES);

/**
 * The vmstat counters of one machine: per-node state (mod_node_page_state) and global
 * events (count_vm_events). Items are addressed by id for speed on hot paths.
 */
export class VmStat {
  readonly nrNodes: number;
  readonly #node: Float64Array;
  readonly #events: Float64Array;
  /**
   * Per node-item readers for gauges the model keeps elsewhere (nr_free_pages is the
   * buddy allocator's own count): read when the item is, never written.
   */
  readonly #gauges: Array<((nid: number) => number) | undefined> = [];
  /** Bit `item` set when node item `item` has a reader in `#gauges` (fewer than 32 items). */
  #gaugeItems = 0;

  /**
   * The counters of `nrNodes` nodes, all 0. With `buffer` (zeroed, at least
   * `VmStat.bufferBytes(nrNodes)` bytes: a machine's recycled buffer, say) they live in it;
   * else in a buffer of their own. Either way the node items and the events share one
   * buffer: a typed array of more than 64 bytes with a buffer of its own gets a backing
   * store outside the heap, slow to make for a machine per explored schedule.
   */
  constructor(nrNodes: number, buffer?: ArrayBuffer) {
    checkInt('nrNodes', nrNodes, 1, 1024);
    this.nrNodes = nrNodes;
    const nodeItems = nrNodes * NODE_STAT_NAMES.length;
    const bytes = VmStat.bufferBytes(nrNodes);
    if (buffer !== undefined && !(buffer instanceof ArrayBuffer && buffer.byteLength >= bytes)) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `VmStat: buffer must be an ArrayBuffer of at least ${bytes} bytes for ${nrNodes} node(s)`,
      );
    }
    const b = buffer ?? new ArrayBuffer(bytes);
    this.#node = new Float64Array(b, 0, nodeItems);
    this.#events = new Float64Array(b, 8 * nodeItems, VM_EVENT_NAMES.length);
  }

  /** Bytes of the buffer the counters of `nrNodes` nodes take (see the constructor). */
  static bufferBytes(nrNodes: number): number {
    return 8 * (nrNodes * NODE_STAT_NAMES.length + VM_EVENT_NAMES.length);
  }

  /** count_vm_events. */
  countVmEvents(item: number, delta = 1): void {
    const value = this.#events[item];
    if (value === undefined) throw badItem('event', item, VM_EVENT_NAMES.length);
    this.#events[item] = value + delta;
  }

  /** mod_node_page_state. */
  modNodePageState(nid: number, item: number, delta: number): void {
    const i = this.#nodeIndex(nid, item);
    this.#node[i] = (this.#node[i] as number) + delta;
  }

  /**
   * node_page_state. Per-step checks read a few items after every step (`nr-isolated`: four
   * on two nodes), so the ids are tested with one comparison each way (`(x >>> 0) === x` holds
   * exactly for the integers in [0, 2^32)) and a bit of `#gaugeItems`; anything else takes
   * `#nodeIndex` for its message.
   */
  nodePageState(nid: number, item: number): number {
    if (nid >>> 0 === nid && nid < this.nrNodes && item >>> 0 === item && item < NODE_ITEMS) {
      if ((this.#gaugeItems & (1 << item)) === 0) {
        return this.#node[nid * NODE_ITEMS + item] as number;
      }
      return (this.#gauges[item] as (nid: number) => number)(nid);
    }
    throw this.#badNodeIndex(nid, item) as MmsimError;
  }

  /**
   * Makes node item `item` read from `read(nid)`, for a gauge whose count lives with its
   * owner (NR_FREE_PAGES: the kernel moves it in the buddy allocator's own paths,
   * `__mod_zone_freepage_state`; the model's buddy keeps a per-node free count). The
   * item then ignores `modNodePageState`; setting a second reader throws INVALID_STATE.
   */
  setNodeGauge(item: number, read: (nid: number) => number): void {
    this.#nodeIndex(0, item);
    if (typeof read !== 'function') {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `a gauge reader must be a function, got ${typeof read}`,
      );
    }
    if (this.#gauges[item] !== undefined) {
      throw new MmsimError('INVALID_STATE', `${NODE_STAT_NAMES[item]} already has a gauge reader`);
    }
    this.#gauges[item] = read;
    this.#gaugeItems |= 1 << item;
  }

  /**
   * Node `nid`'s items as `[name, value]`, in the order of
   * /sys/devices/system/node/nodeN/vmstat (6.3 `node_read_vmstat`: zone items summed over
   * the node's zones, then node items; the events are global and not listed there).
   */
  nodeEntries(nid: number): Array<[string, number]> {
    this.#nodeIndex(nid, 0);
    return NODE_STAT_NAMES.map((name, i): [string, number] => [name, this.nodePageState(nid, i)]);
  }

  #nodeIndex(nid: number, item: number): number {
    const error = this.#badNodeIndex(nid, item);
    if (error !== null) throw error;
    return nid * NODE_STAT_NAMES.length + item;
  }

  /** The error for a node id or node item id out of range (the node first), or null. */
  #badNodeIndex(nid: number, item: number): MmsimError | null {
    if (!(nid >= 0 && nid < this.nrNodes && Number.isInteger(nid))) {
      return new MmsimError(
        'INVALID_ARGUMENT',
        `node ${nid} is out of range [0, ${this.nrNodes - 1}]`,
      );
    }
    if (!(item >= 0 && item < NODE_STAT_NAMES.length && Number.isInteger(item))) {
      return badItem('node', item, NODE_STAT_NAMES.length);
    }
    return null;
  }

  /** global_node_page_state: the sum over nodes. */
  globalNodePageState(item: number): number {
    let sum = 0;
    for (let nid = 0; nid < this.nrNodes; nid++) sum += this.nodePageState(nid, item);
    return sum;
  }

  vmEvent(item: number): number {
    const value = this.#events[item];
    if (value === undefined) throw badItem('event', item, VM_EVENT_NAMES.length);
    return value;
  }

  /** Every counter as `[name, value]` in /proc/vmstat order (node items summed). */
  entries(): Array<[string, number]> {
    return [
      ...NODE_STAT_NAMES.map((name, i): [string, number] => [name, this.globalNodePageState(i)]),
      ...VM_EVENT_NAMES.map((name, i): [string, number] => [name, this.vmEvent(i)]),
    ];
  }

  /** Looks an item up by its /proc/vmstat name; unknown names throw INVALID_ARGUMENT. */
  static itemId(name: string): { kind: 'node' | 'event'; id: number } {
    const node = (NODE_STAT_NAMES as readonly string[]).indexOf(name);
    if (node >= 0) return { kind: 'node', id: node };
    const event = (VM_EVENT_NAMES as readonly string[]).indexOf(name);
    if (event >= 0) return { kind: 'event', id: event };
    throw new MmsimError(
      'INVALID_ARGUMENT',
      `${JSON.stringify(name)} is not a vmstat item the model keeps`,
    );
  }
}

function badItem(kind: 'node' | 'event', item: number, count: number): MmsimError {
  const table = kind === 'node' ? 'NodeStat' : 'VmEvent';
  return new MmsimError(
    'INVALID_ARGUMENT',
    `${kind} item ${String(item)} is not in [0, ${count - 1}]; use the ids of ${table}`,
  );
}
