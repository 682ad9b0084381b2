import { MmsimError } from '@mmsim/runtime';

/**
 * A cpuset (kernel/cgroup/cpuset.c, 6.3) as far as memory goes: the memory nodes its tasks
 * may allocate on (`cpuset.mems`, here the effective mems too: no hierarchy restriction
 * beyond the parent's) and `cpuset.memory_migrate`, which makes attaching a task and
 * changing `mems` move the task's pages (`cpuset_migrate_mm`). CPUs are not restricted.
 */
export class Cpuset {
  readonly name: string;
  readonly parent: Cpuset | null;
  /** `cpuset.mems`, sorted node ids. */
  mems: readonly number[];
  /** `cpuset.memory_migrate`. */
  memoryMigrate: boolean;

  constructor(
    name: string,
    parent: Cpuset | null,
    mems: readonly number[],
    memoryMigrate: boolean,
  ) {
    this.name = name;
    this.parent = parent;
    this.mems = normaliseMems(mems, `cpuset ${name}`);
    this.memoryMigrate = memoryMigrate;
  }

  /** True when `nid` is one of `mems`. */
  allows(nid: number): boolean {
    return this.mems.includes(nid);
  }

  toString(): string {
    return this.name;
  }
}

/** Sorted, de-duplicated node ids; a TypeScript misuse (not an integer) is an MmsimError. */
export function normaliseMems(mems: readonly number[], what: string): number[] {
  if (!Array.isArray(mems)) {
    throw new MmsimError('INVALID_ARGUMENT', `${what}: mems must be an array of node ids`);
  }
  for (const nid of mems) {
    if (!Number.isInteger(nid) || nid < 0) {
      throw new MmsimError(
        'INVALID_ARGUMENT',
        `${what}: mems must hold node ids (integers >= 0), got ${String(nid)}`,
      );
    }
  }
  return [...new Set(mems)].sort((a, b) => a - b);
}
