import type { Folio, FolioList } from '@mmsim/folio';
import { isolateFolios, newList } from '@mmsim/lru/test';
import {
  type AddressSpaceView,
  MAP_ANONYMOUS,
  MAP_SHARED,
  type MmView,
  PAGE_SIZE,
} from '@mmsim/rmap';
import { foliosOf, mapAnon, writePages } from '@mmsim/rmap/test';
import type { KernelGen } from '@mmsim/runtime';
import type { MigrateMachine } from './machine.js';

/**
 * A new process with `pages` anonymous pages written with `value(i)` (on the node of the
 * running CPU), all of them isolated on a new list, ready to migrate. Run it in a task.
 */
export function* anonIsolated(
  m: MigrateMachine,
  pages: number,
  value: (i: number) => number = (i) => 100 + i,
): KernelGen<{ mm: MmView; addr: number; folios: Folio[]; list: FolioList }> {
  const mm = m.vm.createProcess(`p${m.vm.processes.length}`);
  const addr = mapAnon(m, mm, pages);
  yield* writePages(m, mm, addr, pages, value);
  const folios = foliosOf(m, mm, addr, pages);
  const list = newList(m);
  yield* isolateFolios(m, folios, list);
  return { mm, addr, folios, list };
}

/**
 * A file of `pages` pages whose page-cache folios are read (or written, `dirty`) through a
 * shared mapping of a new process, then unmapped unless `keepMapped`, and isolated on a
 * new list. `shmem` makes it a MAP_SHARED | MAP_ANONYMOUS mapping instead of a file.
 */
export function* pageCacheIsolated(
  m: MigrateMachine,
  pages: number,
  options: { dirty?: boolean; keepMapped?: boolean; shmem?: boolean; base?: number } = {},
): KernelGen<{
  file: AddressSpaceView;
  mm: MmView;
  addr: number;
  folios: Folio[];
  list: FolioList;
}> {
  const vm = m.vm;
  const base = options.base ?? 500;
  const mm = vm.createProcess(`fp${vm.processes.length}`);
  let addr: number;
  let file: AddressSpaceView;
  if (options.shmem === true) {
    addr = vm.mmap(mm, { length: pages * PAGE_SIZE, flags: MAP_SHARED | MAP_ANONYMOUS });
    file = mm.vmas[mm.vmas.length - 1]!.file!;
  } else {
    file = vm.createFile(`file${vm.processes.length}`, {
      content: Array.from({ length: pages }, (_, i) => base + i),
    });
    addr = vm.mmap(mm, { length: pages * PAGE_SIZE, flags: MAP_SHARED, file });
  }
  for (let i = 0; i < pages; i++) {
    if (options.dirty === true || options.shmem === true) {
      yield* vm.userWrite(mm, addr + i * PAGE_SIZE, base + i);
    } else {
      yield* vm.userRead(mm, addr + i * PAGE_SIZE);
    }
  }
  const folios = foliosOf(m, mm, addr, pages);
  // (An anonymous shmem file goes away with its last mapping: it stays mapped.)
  if (options.keepMapped !== true && options.shmem !== true) {
    yield* vm.munmap(mm, addr, pages * PAGE_SIZE);
  }
  const list = newList(m);
  yield* isolateFolios(m, folios, list);
  return { file, mm, addr, folios, list };
}
