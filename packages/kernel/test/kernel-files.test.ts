import { nodeDistance, nodeFallbackOrder } from '@mmsim/folio';
import { MAP_ANONYMOUS, MAP_SHARED, PAGE_SIZE } from '@mmsim/rmap';
import { describe, expect, it } from 'vitest';
import { createKernel, Kernel, resolveKernelConfig } from '../src/index.js';

describe('Kernel.files', () => {
  it('lists the created files, then each other file a mapping uses, once', () => {
    const k = createKernel({ nodes: [{ pages: 1024 }] });
    // More created files than the linear search covers, so the set takes over.
    const created = Array.from({ length: 20 }, (_, i) => k.createFile(`f${i}`));
    const a = k.createProcess('a');
    const b = k.createProcess('b');
    // A created file mapped twice, in two processes: listed once, where it was created.
    k.vm.mmap(a, { length: PAGE_SIZE, flags: MAP_SHARED, file: created[3]! });
    k.vm.mmap(b, { length: PAGE_SIZE, flags: MAP_SHARED, file: created[3]! });
    // Shared anonymous mappings are backed by shmem files of their own.
    k.vm.mmap(a, { length: PAGE_SIZE, flags: MAP_SHARED | MAP_ANONYMOUS });
    k.vm.mmap(b, { length: PAGE_SIZE, flags: MAP_SHARED | MAP_ANONYMOUS });
    const files = k.files;
    expect(files.slice(0, 20)).toEqual(created);
    expect(files).toHaveLength(22);
    expect(new Set(files).size).toBe(22);
    // Each call answers afresh: a file created later is in the next answer, not the last.
    k.createFile('late');
    expect(files).toHaveLength(22);
    expect(k.files.map((f) => f.name)).toContain('late');
  });

  it('with a few files, a shmem file mapped by two VMAs is listed once', () => {
    const k = createKernel({ nodes: [{ pages: 1024 }] });
    const file = k.createFile('data');
    const mm = k.createProcess('p');
    k.vm.mmap(mm, { length: 2 * PAGE_SIZE, flags: MAP_SHARED, file });
    k.vm.mmap(mm, { length: PAGE_SIZE, flags: MAP_SHARED | MAP_ANONYMOUS });
    expect(k.files).toHaveLength(2);
    expect(k.files[0]).toBe(file);
  });
});

describe('kernels built from one resolved configuration', () => {
  it('follow its distance table, and another table given with the same nodes', () => {
    const config = resolveKernelConfig({
      nodes: [{ pages: 512 }, { pages: 512 }, { pages: 512 }],
      distances: [
        [10, 40, 20],
        [40, 10, 30],
        [20, 30, 10],
      ],
    });
    const first = new Kernel(config);
    expect(nodeFallbackOrder(first.mem, 0)).toEqual([0, 2, 1]);
    // Same nodes (as an explorer's instances share them), another table.
    const other = new Kernel({
      ...config,
      distances: [
        [10, 20, 40],
        [20, 10, 30],
        [40, 30, 10],
      ],
    });
    expect(nodeFallbackOrder(other.mem, 0)).toEqual([0, 1, 2]);
    expect(nodeDistance(other.mem, 0, 2)).toBe(40);
    const again = new Kernel(config);
    expect(nodeFallbackOrder(again.mem, 0)).toEqual([0, 2, 1]);
    expect(nodeDistance(again.mem, 1, 2)).toBe(30);
  });
});
